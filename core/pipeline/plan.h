/* What a build will write: validated formats, output names and paths,
 * following LinuxKit's order of checks (build-and-outputs.md §1.3). */
#ifndef LKB_PIPELINE_PLAN_H
#define LKB_PIPELINE_PLAN_H

#include <stdbool.h>

#include "pipeline/options.h"
#include "plugin/loader.h"
#include "util/error.h"

/* One format of the build with the options that apply to it. */
struct lkb_planned_format {
    const char *name;
    const struct lkb_loaded_format *fmt; /* built in or from a plugin: one table */
    struct lkb_option *opts;        /* 1.0 view: key=value, defaults included */
    size_t n_opts;
    struct lkb_option_value *values; /* 1.1 view: one per declared option */
    size_t n_values;
};

struct lkb_build_plan {
    char *name;        /* base name of outputs */
    char *dir;         /* output directory ("." when not given) */
    char *output_file; /* -o: the single output file, "-" = stdout (streamable formats); else NULL */
    const char *arch;
    struct lkb_planned_format *formats;
    size_t n_formats;
};

/* Default output name: basename of the last config without its final
 * extension; "moby" for stdin. Returns a malloc'd string. */
char *lkb_build_default_name(const char *config);

/* Formats, output paths and -format-opt values: everything that can be
 * checked without reading the configuration. `plugins` holds the built-in
 * formats too (lkb_plugin_set_add_builtin). */
int lkb_build_plan_make(const struct lkb_build_opts *opts, const struct lkb_plugin_set *plugins,
                        struct lkb_build_plan *plan, struct lkb_error *err);
void lkb_build_plan_free(struct lkb_build_plan *plan);

#endif
