/* The per-build host context handed to a format plugin, and the calls that
 * run a plugin's build with it. */
#ifndef LKB_PLUGIN_HOST_H
#define LKB_PLUGIN_HOST_H

#include <lkb/plugin.h>

#include "plugin/loader.h"
#include "util/error.h"

/* How the host reads files of fetched images for a plugin. Installed by the
 * build pipeline; the plugin layer itself knows nothing about the cache. */
struct lkb_image_access {
    void *ctx;
    int (*read_file)(void *ctx, const char *image, const char *path, void **data, size_t *size,
                     struct lkb_error *err);
    int (*extract_dir)(void *ctx, const char *image, const char *path, const char *dest_dir,
                       struct lkb_error *err);
    /* Plan time: add an image to the fetch phase. */
    int (*require)(void *ctx, const char *image, struct lkb_error *err);
};

/* One host context serves every format of a build, so temporary
 * directories live until the build ends. */
struct lkb_host {
    const char *plugin_name; /* of the format being called */
    const struct lkb_option *options;
    size_t n_options;
    struct lkb_image_access images;
    struct lkb_error err; /* set by api->set_error */
    char **temp_dirs;     /* removed by lkb_host_cleanup */
    size_t n_temp_dirs;
    const char *stage_dir; /* where output_open/output_path create outputs */
    const char *format_name; /* of the format being called */
    /* Output names handed out so far and the format that asked for each:
     * two formats of one build must not write the same file. */
    struct lkb_host_output {
        char *name;
        char *format;
    } *outputs;
    size_t n_outputs;
    int in_check;          /* require_image is allowed */
    void *pipeline;        /* the build, for the built-in formats */
};

void lkb_host_init(struct lkb_host *host, const char *plugin_name);
/* Remove temporary directories the plugin asked for; forget output names. */
void lkb_host_cleanup(struct lkb_host *host);

/* Run `fmt`'s check (nothing when it has none) or build. On failure err
 * holds "format NAME (plugin FILE): msg" with the kind the plugin gave. */
int lkb_host_run_check(struct lkb_host *host, const struct lkb_loaded_format *fmt,
                       const struct lkb_build_input *input, struct lkb_error *err);
int lkb_host_run_build(struct lkb_host *host, const struct lkb_loaded_format *fmt,
                       const struct lkb_build_input *input, struct lkb_error *err);

#endif
