/* The build's one image store: every image the build reads - sections,
 * OCI volumes, images declared by format plugins - is requested here and
 * pulled together in the fetch phase, so a bad reference fails before
 * anything is built. Entries are keyed by (reference as written, platform). */
#ifndef LKB_PIPELINE_IMAGES_H
#define LKB_PIPELINE_IMAGES_H

#include <stddef.h>

#include "oci/oci.h"
#include "util/error.h"

struct lkb_image_store {
    struct lkb_cache *cache;
    const struct lkb_pull_opts *pull;
    const char *arch; /* the build's platform, for want/lookup */
    struct lkb_stored_image {
        char *ref;
        char *platform;
        struct lkb_image *img; /* NULL until fetched */
    } *items;
    size_t n;
};

void lkb_image_store_init(struct lkb_image_store *s, struct lkb_cache *cache,
                          const struct lkb_pull_opts *pull, const char *arch);
void lkb_image_store_free(struct lkb_image_store *s);

/* Ask for `ref` for `platform` (NULL: the build's). NULL/empty refs and
 * repeats are ignored. */
int lkb_image_store_want(struct lkb_image_store *s, const char *ref, const char *platform,
                         struct lkb_error *err);
/* Pull everything wanted and not fetched yet, in parallel. */
int lkb_image_store_fetch(struct lkb_image_store *s, struct lkb_error *err);
/* A fetched image, or NULL. */
struct lkb_image *lkb_image_store_lookup(const struct lkb_image_store *s, const char *ref,
                                         const char *platform);
/* A fetched image, pulling it now if it was not wanted before: only ABI
 * 1.0 plugins, which cannot declare images, get there. The store keeps it. */
int lkb_image_store_get(struct lkb_image_store *s, const char *ref, const char *platform,
                        struct lkb_image **out, struct lkb_error *err);

#endif
