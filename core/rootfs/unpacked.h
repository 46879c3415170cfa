/* The unpacked-layer cache: CACHE/unpacked/<hex of the layer's diff_id> is
 * the layer's uncompressed tar, made the first time the layer is laid out.
 * Layout then reads only its headers, and file contents become ranges of
 * the file (lkb_blob_range): nothing is inflated or copied, and a range's
 * identity (diff_id, offset, size) is known without reading it, which is
 * what initrd segment keys are made of.
 *
 * Integrity: the tar is written to a temporary file while hashed, compared
 * with the image config's rootfs.diff_ids entry and renamed into place;
 * "<hex>.ok" then records its size, inode, mtime and ctime. A file whose
 * stat no longer matches its record (truncated, written to, replaced) is
 * hashed again and re-made if it differs; `lkb cache verify` hashes every
 * one. Bounded like the segments (LRU, $LKB_UNPACKED_CACHE_MAX bytes). */
#ifndef LKB_ROOTFS_UNPACKED_H
#define LKB_ROOTFS_UNPACKED_H

#include <stddef.h>
#include <stdint.h>

#include "oci/oci.h"
#include "rootfs/tree.h"
#include "util/error.h"

struct archive;

#define LKB_UNPACKED_MAX_BYTES ((uint64_t)4 << 30)

/* Keep unpacked layers in cache_dir/unpacked from now on (process-wide,
 * like the read-only cache list); NULL: layers are streamed from their
 * compressed blobs, as without a cache. */
int lkb_unpacked_use(const char *cache_dir, struct lkb_error *err);

/* What the layouts of this process did, for -v and the tests. */
struct lkb_unpacked_stats {
    size_t reused;   /* layers read from the unpacked cache */
    size_t made;     /* layers inflated into it */
    size_t streamed; /* layers inflated without it (no cache, no diff_id, ...) */
};
void lkb_unpacked_stats(struct lkb_unpacked_stats *out);
/* Count a layer inflated the old way (by the caller). */
void lkb_unpacked_count_streamed(void);

/* Layer i of img as an unpacked file: 0 with *file (mapped) and *a (a tar
 * reader over it, headers only need be read), 1 when there is no unpacked
 * cache or the layer cannot be kept there (no diff_id, a read-only or full
 * directory, content that does not match its diff_id, more than max_bytes
 * of tar): the caller then streams the layer. -1 only for a corrupt
 * compressed blob. */
int lkb_unpacked_open(struct lkb_image *img, size_t i, uint64_t max_bytes,
                      struct lkb_blob_file **file, struct archive **a, struct lkb_error *err);

/* Make the unpacked files of every layer of imgs (NULL entries skipped)
 * that lacks one, on all cores, before the layout opens them one by one.
 * Only a speed-up: a layer that fails here is made (or its error reported)
 * by lkb_unpacked_open in the layout's order. -1 only when out of memory. */
int lkb_unpacked_prepare(struct lkb_image *const *imgs, size_t n_imgs);

/* Unpacking layers while the pull still downloads (see
 * lkb_pull_opts.on_layer): NULL without an unpacked cache. Pass
 * lkb_unpacked_early_layer and the object as the pull's callback, then
 * lkb_unpacked_early_finish (waits, frees; the number of layers handed
 * over, -1 only when out of memory) before lkb_unpacked_prepare, which
 * finds those layers made. */
struct lkb_unpacked_early;
struct lkb_unpacked_early *lkb_unpacked_early_new(void);
void lkb_unpacked_early_layer(void *early, const char *digest, int fd);
int lkb_unpacked_early_finish(struct lkb_unpacked_early *early);

/* After a build: the least recently used unpacked layers go until at most
 * $LKB_UNPACKED_CACHE_MAX (default LKB_UNPACKED_MAX_BYTES) remain. */
int lkb_unpacked_trim(const char *cache_dir, struct lkb_error *err);
/* Remove every unpacked layer; counts what went. */
int lkb_unpacked_clean(const char *cache_dir, size_t *n, uint64_t *bytes, struct lkb_error *err);
/* Hash every unpacked layer; remove those that do not match their name. */
int lkb_unpacked_verify(const char *cache_dir, size_t *checked, size_t *removed,
                        struct lkb_error *err);

#endif
