/* onboot/onshutdown/services bundles and volumes in the root tree
 * (runtime-config.md §12, build-and-outputs.md §6). */
#ifndef LKB_PIPELINE_CONTAINERS_H
#define LKB_PIPELINE_CONTAINERS_H

#include "pipeline/ocivolume.h"
#include "config/config.h"
#include "oci/oci.h"
#include "rootfs/tree.h"
#include "util/error.h"

/* Looks up the pulled image of an image string from the YAML. */
typedef struct lkb_image *(*lkb_image_lookup_fn)(void *ctx, const char *image);

int lkb_build_volumes(struct lkb_tree *root, const struct lkb_config *cfg,
                      lkb_image_lookup_fn lookup, void *ctx,
                      struct lkb_image_store *oci, struct lkb_error *err);

/* Copies section[idx] from -input-tar instead of building it; 1 when it
 * did (pipeline/inputtar.h), 0 when the section is to be built. */
typedef int (*lkb_section_copy_fn)(void *ctx, const char *section, size_t idx,
                                   struct lkb_error *err);

int lkb_build_containers(struct lkb_tree *root, const struct lkb_config *cfg,
                         lkb_image_lookup_fn lookup, lkb_section_copy_fn copy, void *ctx,
                         struct lkb_error *err);

#endif
