/* Volumes with `format: oci`: an OCI image layout of the image's index in
 * containers/volumes/<name>/lower (build-and-outputs.md §6.1). */
#ifndef LKB_BUILD_OCIVOLUME_H
#define LKB_BUILD_OCIVOLUME_H

#include <jansson.h>

#include "oci/oci.h"
#include "rootfs/tree.h"
#include "util/error.h"

struct lkb_oci_volume_ctx {
    struct lkb_cache *cache;
    const struct lkb_pull_opts *pull;
    const char *arch; /* the build's -arch, to resolve the index first */
};

int lkb_build_oci_volume(struct lkb_tree *root, const struct lkb_oci_volume_ctx *ctx,
                         const json_t *volume, const char *prefix, struct lkb_error *err);

#endif
