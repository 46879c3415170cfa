/* The state of one `lkb build`, shared by the pipeline's steps: the
 * sequencing (pipeline.c), the inputs formats read (inputs.c), the format
 * adapter (format_run.c) and the built-in formats (builtin_formats.c). */
#ifndef LKB_PIPELINE_BUILD_STATE_H
#define LKB_PIPELINE_BUILD_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "oci/oci.h"
#include "pipeline/images.h"
#include "pipeline/inputtar.h"
#include "pipeline/kernel.h"
#include "pipeline/options.h"
#include "pipeline/plan.h"
#include "plugin/host.h"
#include "rootfs/tree.h"

struct lkb_build_state {
    const struct lkb_build_opts *opts;
    const struct lkb_build_plan *plan;
    const struct lkb_config *cfg;
    struct lkb_cache *cache;
    struct lkb_pull_opts pull;
    struct lkb_image_store images;
    struct lkb_tree root;
    struct lkb_kernel_out kernel;
    int64_t clamp;     /* $SOURCE_DATE_EPOCH, or -1 */
    int64_t timestamp; /* the build's timestamp handed to formats */
    char *tmpdir;      /* inputs shared by formats: kernel, initrd, rootfs.tar, dtb/ */
    char *stage;       /* staging directory inside -dir; see staging.h */
    struct lkb_host host; /* one for every format: temp dirs live until the end */
    const struct lkb_loaded_format *current; /* format being called */
    struct lkb_input_tar *itar; /* -input-tar: sections copied instead of built, or NULL */
};

#endif
