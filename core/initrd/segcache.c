#define _GNU_SOURCE /* asprintf */
#include "initrd/segcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/digest.h"
#include "rootfs/lrudir.h"
#include "util/fs.h"

#define MAGIC "lkb-initrd-segment 1\n"
#define MAGIC_LEN (sizeof MAGIC - 1)
#define HDR_LEN (MAGIC_LEN + LKB_DIGEST_MAX) /* magic, "sha256:<hex>\n" */

struct lkb_segcache {
    char *dir;
};

struct lkb_segcache *lkb_segcache_open(const char *cache_dir, struct lkb_error *err)
{
    struct lkb_segcache *c = calloc(1, sizeof *c);
    if (!c || !(c->dir = lkb_fs_join(cache_dir, "segments"))) {
        free(c);
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (lkb_fs_mkdir_p(c->dir, 0755, err) < 0) {
        lkb_segcache_close(c);
        return NULL;
    }
    return c;
}

void lkb_segcache_close(struct lkb_segcache *c)
{
    if (!c)
        return;
    free(c->dir);
    free(c);
}

static char *entry_path(const struct lkb_segcache *c, const char *key)
{
    return lkb_fs_join(c->dir, key);
}

int lkb_segcache_get(struct lkb_segcache *c, const char *key, struct lkb_blob **seg,
                     size_t *off, size_t *len)
{
    char *path = entry_path(c, key);
    if (!path)
        return 0;
    struct lkb_error err;
    struct lkb_blob *b = NULL;
    int hit = 0;
    /* Mapped, not read: the payload goes from the page cache to the
     * initrd without a copy on the heap. */
    if (lkb_blob_map_file(path, &b, &err) == 0) {
        const char *raw = (const char *)b->data;
        char want[LKB_DIGEST_MAX];
        if (b->size >= HDR_LEN && memcmp(raw, MAGIC, MAGIC_LEN) == 0 &&
            raw[HDR_LEN - 1] == '\n' &&
            lkb_digest_bytes(raw + HDR_LEN, b->size - HDR_LEN, want, &err) == 0 &&
            memcmp(raw + MAGIC_LEN, want, LKB_DIGEST_MAX - 1) == 0) {
            *seg = b;
            *off = HDR_LEN;
            *len = b->size - HDR_LEN;
            b = NULL;
            hit = 1;
            utimensat(AT_FDCWD, path, NULL, 0); /* recently used, for trim */
        } else {
            unlink(path); /* truncated or corrupt: rebuilt by the caller */
        }
    }
    lkb_blob_unref(b);
    free(path);
    return hit;
}

int lkb_segcache_put(struct lkb_segcache *c, const char *key, const void *data, size_t len,
                     struct lkb_error *err)
{
    char hdr[HDR_LEN + 1], digest[LKB_DIGEST_MAX];
    if (lkb_digest_bytes(data, len, digest, err) < 0)
        return -1;
    snprintf(hdr, sizeof hdr, "%s%s\n", MAGIC, digest);
    char *path = entry_path(c, key);
    if (!path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* No fsync: a segment cut short by a crash fails its digest and is
     * rebuilt, so durability is not worth a disk flush per segment. */
    int rc = lkb_fs_write_unsynced(path, hdr, HDR_LEN, data, len, err);
    free(path);
    return rc;
}

int lkb_segcache_put_fd(struct lkb_segcache *c, const char *key, int fd, uint64_t off, size_t len,
                        struct lkb_error *err)
{
    size_t delta = (size_t)(off % (uint64_t)sysconf(_SC_PAGESIZE));
    void *m = mmap(NULL, len + delta, PROT_READ, MAP_SHARED, fd, (off_t)(off - delta));
    if (m == MAP_FAILED)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "mapping an initrd segment");
    int rc = lkb_segcache_put(c, key, (unsigned char *)m + delta, len, err);
    munmap(m, len + delta);
    return rc;
}

int lkb_segcache_trim(struct lkb_segcache *c, uint64_t max_bytes, struct lkb_error *err)
{
    if (!max_bytes)
        max_bytes = lkb_lrudir_bound("LKB_SEGMENT_CACHE_MAX", LKB_SEGCACHE_MAX_BYTES);
    return lkb_lrudir_trim(c->dir, max_bytes, err);
}

int lkb_segcache_clean(const char *cache_dir, size_t *n, uint64_t *bytes, struct lkb_error *err)
{
    char *dir = lkb_fs_join(cache_dir, "segments");
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_lrudir_clean(dir, n, bytes, err);
    free(dir);
    return rc;
}
