/* OCI bundle files for onboot/onshutdown/services entries: config.json and
 * runtime.json exactly as LinuxKit writes them (runtime-config.md). */
#ifndef LKB_RUNTIME_RUNTIME_H
#define LKB_RUNTIME_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"
#include "util/error.h"

struct lkb_runtime_input {
    const char *section;          /* "onboot", "onshutdown", "services" */
    size_t index;                 /* position in the merged section */
    const json_t *entry;          /* the YAML image entry */
    const json_t *label;          /* parsed org.mobyproject.config, or NULL */
    const json_t *image_config;   /* the image config blob's "config" object, or NULL */
    const struct lkb_config *cfg; /* ids by name, volumes, locations */
    const char *bundle_dir;       /* "containers/onboot/000-name" (no leading '/') */
    const char *root_dir;         /* the image root: bundle/lower, bundle/rootfs, or a shared one */
};

/* Effective readonly: YAML if set, else label, else false. */
bool lkb_runtime_readonly(const json_t *entry, const json_t *label);

/* Produce both files. *config_json and *runtime_json are malloc'd, Go
 * encoding/json MarshalIndent style (4 spaces, HTML-safe escapes, no final
 * newline). Errors name the entry: `services[2] "sshd": ...`. */
int lkb_runtime_bundle_files(const struct lkb_runtime_input *in, char **config_json,
                             char **runtime_json, struct lkb_error *err);

/* Serialise like Go's json.MarshalIndent(v, "", "    "). */
char *lkb_json_go_dumps(const json_t *v);

#endif
