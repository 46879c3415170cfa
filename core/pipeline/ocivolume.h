/* Volumes with `format: oci`: an OCI image layout of the image's index in
 * containers/volumes/<name>/lower (build-and-outputs.md §6.1). */
#ifndef LKB_PIPELINE_OCIVOLUME_H
#define LKB_PIPELINE_OCIVOLUME_H

#include <jansson.h>

#include "oci/oci.h"
#include "pipeline/images.h"
#include "rootfs/tree.h"
#include "util/error.h"

/* Fetch phase, second round: the volume's image for the build's platform
 * is fetched; read its index and ask the store for every platform the
 * volume wants. */
int lkb_oci_volume_want(struct lkb_image_store *s, const json_t *volume, struct lkb_error *err);

/* Lay the volume out from images the fetch phase put in the store. */
int lkb_build_oci_volume(struct lkb_tree *root, struct lkb_image_store *ctx,
                         const json_t *volume, const char *prefix, struct lkb_error *err);

#endif
