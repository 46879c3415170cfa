/* Volumes with `format: oci`: an OCI image layout of the image's index in
 * containers/volumes/<name>/lower (build-and-outputs.md §6.1). */
#ifndef LKB_BUILD_OCIVOLUME_H
#define LKB_BUILD_OCIVOLUME_H

#include <jansson.h>

#include "oci/oci.h"
#include "pipeline/images.h"
#include "rootfs/tree.h"
#include "util/error.h"

/* The image (for the build's platform) comes from the store's fetch phase;
 * the other platforms' images are pulled through the store on demand. */
int lkb_build_oci_volume(struct lkb_tree *root, struct lkb_image_store *ctx,
                         const json_t *volume, const char *prefix, struct lkb_error *err);

#endif
