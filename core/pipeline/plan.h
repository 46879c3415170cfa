/* What a build will write: validated formats, output names and paths,
 * following LinuxKit's order of checks (build-and-outputs.md §1.3). */
#ifndef LKB_BUILD_PLAN_H
#define LKB_BUILD_PLAN_H

#include <stdbool.h>

#include "pipeline/options.h"
#include "plugin/loader.h"
#include "util/error.h"

enum lkb_builtin_format {
    LKB_FMT_PLUGIN = 0,
    LKB_FMT_KERNEL_INITRD,
    LKB_FMT_TAR,
    LKB_FMT_TAR_KERNEL_INITRD,
};

struct lkb_planned_format {
    const char *name;
    enum lkb_builtin_format builtin;
    const struct lkb_loaded_format *plugin; /* for LKB_FMT_PLUGIN */
};

struct lkb_build_plan {
    char *name;        /* base name of outputs */
    char *dir;         /* output directory ("." when not given) */
    char *output_file; /* streamable format's single file, "-" = stdout, else NULL */
    const char *arch;
    struct lkb_planned_format *formats;
    size_t n_formats;
};

/* Built-in formats, for `lkb formats`. */
struct lkb_builtin_info {
    const char *name;
    const char *description;
    enum lkb_builtin_format id;
    bool streamable;
};
const struct lkb_builtin_info *lkb_builtin_formats(size_t *n);

/* Default output name: basename of the last config without its final
 * extension; "moby" for stdin. Returns a malloc'd string. */
char *lkb_build_default_name(const char *config);

int lkb_build_plan_make(const struct lkb_build_opts *opts, const struct lkb_plugin_set *plugins,
                        struct lkb_build_plan *plan, struct lkb_error *err);
void lkb_build_plan_free(struct lkb_build_plan *plan);

#endif
