/* The cache of compressed initrd segments: CACHE/segments/<key>, where key
 * is the sha256 (hex) of everything that decides the segment's compressed
 * bytes (see initrd.c). A file holds a magic line, the sha256 of its
 * payload and the payload; a file whose payload does not match (truncated,
 * corrupt) is removed and counts as a miss, never used. Writes are atomic
 * (temporary file, rename), so builds sharing the cache only ever see
 * whole segments. The directory is bounded: after each build the least
 * recently used segments go until the total is at most
 * LKB_SEGCACHE_MAX_BYTES (or $LKB_SEGMENT_CACHE_MAX bytes). */
#ifndef LKB_INITRD_SEGCACHE_H
#define LKB_INITRD_SEGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "rootfs/tree.h"
#include "util/error.h"

#define LKB_SEGCACHE_MAX_BYTES ((uint64_t)1 << 30)

struct lkb_segcache;

/* Open (creating) cache_dir/segments. */
struct lkb_segcache *lkb_segcache_open(const char *cache_dir, struct lkb_error *err);
void lkb_segcache_close(struct lkb_segcache *c);

/* The segment of key (64 hex digits): 1 with the file mapped as *seg
 * (unref it when done) and its payload at [*off, *off + *len), 0 when
 * absent or found corrupt (then removed). Thread-safe. */
int lkb_segcache_get(struct lkb_segcache *c, const char *key, struct lkb_blob **seg, size_t *off,
                     size_t *len);
/* Store a segment atomically. Thread-safe. */
int lkb_segcache_put(struct lkb_segcache *c, const char *key, const void *data, size_t len,
                     struct lkb_error *err);
/* Store [off, off + len) of the file open as fd (readable) as a segment. */
int lkb_segcache_put_fd(struct lkb_segcache *c, const char *key, int fd, uint64_t off, size_t len,
                        struct lkb_error *err);
/* Remove the least recently used segments until at most max_bytes remain
 * (0: the default bound); stale temporary files go too. */
int lkb_segcache_trim(struct lkb_segcache *c, uint64_t max_bytes, struct lkb_error *err);
/* Remove every segment; counts what went. */
int lkb_segcache_clean(const char *cache_dir, size_t *n, uint64_t *bytes, struct lkb_error *err);

#endif
