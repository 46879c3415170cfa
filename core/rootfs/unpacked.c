#define _GNU_SOURCE /* asprintf */
#include "rootfs/unpacked.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/digest.h"
#include "rootfs/lrudir.h"
#include "util/fs.h"
#include "util/log.h"

#define STAMP_MAGIC "lkb-unpacked 1"

static char *unpacked_dir; /* CACHE/unpacked, NULL when not used */
static struct lkb_unpacked_stats stats;

int lkb_unpacked_use(const char *cache_dir, struct lkb_error *err)
{
    free(unpacked_dir);
    unpacked_dir = NULL;
    if (cache_dir && !(unpacked_dir = lkb_fs_join(cache_dir, "unpacked")))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return 0;
}

void lkb_unpacked_stats(struct lkb_unpacked_stats *out) { *out = stats; }

void lkb_unpacked_count_streamed(void) { stats.streamed++; }

/* The image config's rootfs.diff_ids[i], when it is a sha256 digest and
 * the list matches the layers. */
static const char *diff_id(const struct lkb_image *img, size_t i)
{
    json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
    if (json_array_size(ids) != img->n_layers)
        return NULL;
    const char *id = json_string_value(json_array_get(ids, i));
    return id && lkb_digest_valid(id) ? id : NULL;
}

/* What "<hex>.ok" holds for a file: any write, truncation or replacement
 * changes its mtime, ctime, inode or size. */
static void stamp_of(const struct stat *st, char *buf, size_t len)
{
    snprintf(buf, len, STAMP_MAGIC " %" PRIu64 " %" PRIu64 " %" PRIu64 " %lld.%09ld %lld.%09ld\n",
             (uint64_t)st->st_size, (uint64_t)st->st_dev, (uint64_t)st->st_ino,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
             st->st_ctim.tv_nsec);
}

/* Written atomically (temporary file, rename) but not synced: a stamp
 * lost in a crash only costs one more hash of its layer. */
static int write_stamp(const char *dir, const char *path, const char *stamp_path,
                       struct lkb_error *err)
{
    struct stat st;
    char buf[160], *tmp = NULL;
    if (stat(path, &st) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "%s", path);
    stamp_of(&st, buf, sizeof buf);
    if (asprintf(&tmp, "%s/.tmp-XXXXXX", dir) < 0)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int fd = mkstemp(tmp);
    int rc = fd < 0 ? lkb_error_errno(err, LKB_ERR_IO, errno, "creating %s", tmp) : 0;
    if (rc == 0 && fchmod(fd, 0644) < 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "%s", tmp);
    if (rc == 0)
        rc = lkb_fs_write_all(fd, buf, strlen(buf), tmp, err);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "writing %s", tmp);
    if (rc == 0 && rename(tmp, stamp_path) < 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "renaming into %s", stamp_path);
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* 1 when path holds the layer: its stamp matches, or it hashes to id (then
 * the stamp is written again). A file that does not is removed. */
static int check(const char *path, const char *stamp_path, const char *id)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    char want[160], *have = NULL;
    size_t len;
    struct lkb_error err;
    stamp_of(&st, want, sizeof want);
    int ok = lkb_fs_read_file(stamp_path, &have, &len, &err) == 0 && strcmp(have, want) == 0;
    free(have);
    if (ok) {
        utimensat(AT_FDCWD, stamp_path, NULL, 0); /* recently used, for trim */
        return 1;
    }
    char got[LKB_DIGEST_MAX];
    uint64_t size;
    if (lkb_digest_file(path, got, &size, &err) == 0 && strcmp(got, id) == 0 &&
        write_stamp(unpacked_dir, path, stamp_path, &err) == 0)
        return 1;
    lkb_debug("unpacked layer %s does not match its name: made again", path);
    unlink(path);
    unlink(stamp_path);
    return 0;
}

/* Inflate layer i into path: a temporary file hashed while written, renamed
 * into place only when it matches id. 1 (nothing made) when it cannot be
 * kept. */
static int make(struct lkb_image *img, size_t i, const char *id, const char *path,
                const char *stamp_path, uint64_t max_bytes, struct lkb_error *err)
{
    /* The compressed blob is verified first (as for a streamed layer). */
    struct archive *a;
    if (lkb_oci_layer_open(img, i, &a, err) < 0)
        return -1;
    archive_read_free(a);
    struct lkb_error why;
    lkb_error_clear(&why);
    if (lkb_fs_mkdir_p(unpacked_dir, 0755, &why) < 0) {
        lkb_debug("unpacked layers not kept: %s", why.msg);
        return 1;
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s/.tmp-XXXXXX", unpacked_dir) < 0)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lkb_debug("unpacked layers not kept: %s: %s", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    /* libarchive's raw format: the decompressed stream, whatever the
     * compression (gzip, zstd, none). */
    a = archive_read_new();
    struct lkb_sha256 h = {0};
    unsigned char *buf = malloc(1 << 16);
    struct archive_entry *e;
    uint64_t total = 0;
    int rc = !a || !buf ? lkb_error_set(&why, LKB_ERR_INTERNAL, "out of memory") : 0;
    if (rc == 0) {
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        if (archive_read_open_filename(a, img->layers[i].path, 1 << 16) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "%s", archive_error_string(a));
    }
    if (rc == 0)
        rc = lkb_sha256_init(&h, &why);
    while (rc == 0) {
        la_ssize_t r = archive_read_data(a, buf, 1 << 16);
        if (r < 0)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "%s", archive_error_string(a));
        if (r <= 0)
            break;
        total += (uint64_t)r;
        if (total > max_bytes)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "more than %" PRIu64 " bytes", max_bytes);
        else
            lkb_sha256_update(&h, buf, (size_t)r);
        if (rc == 0)
            rc = lkb_fs_write_all(fd, buf, (size_t)r, tmp, &why);
    }
    char got[LKB_DIGEST_MAX] = "";
    if (rc == 0) {
        lkb_sha256_final(&h, got);
        if (strcmp(got, id) != 0)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "its content hashes to %s", got);
    } else {
        lkb_sha256_discard(&h);
    }
    free(buf);
    archive_read_free(a);
    if (rc == 0 && fchmod(fd, 0644) < 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "%s", tmp);
    if (close(fd) < 0 && rc == 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "writing %s", tmp);
    /* No fsync: a file cut short by a crash fails its stamp and its hash. */
    if (rc == 0 && rename(tmp, path) < 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "renaming into %s", path);
    if (rc == 0 && (rc = write_stamp(unpacked_dir, path, stamp_path, &why)) < 0)
        unlink(path);
    if (rc < 0) {
        unlink(tmp);
        lkb_debug("layer %s of %s not kept unpacked: %s", img->layers[i].digest, img->ref,
                  why.msg);
    }
    free(tmp);
    return rc < 0 ? 1 : 0;
}

int lkb_unpacked_open(struct lkb_image *img, size_t i, uint64_t max_bytes,
                      struct lkb_blob_file **file, struct archive **a, struct lkb_error *err)
{
    *file = NULL;
    *a = NULL;
    const char *id = unpacked_dir ? diff_id(img, i) : NULL;
    if (!id)
        return 1;
    char *path = lkb_fs_join(unpacked_dir, id + 7), *stamp = NULL;
    if (!path || asprintf(&stamp, "%s.ok", path) < 0) {
        free(path);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    int rc = 0, made = 0;
    if (!check(path, stamp, id)) {
        rc = make(img, i, id, path, stamp, max_bytes, err);
        made = 1;
    }
    struct lkb_error why;
    if (rc == 0 && lkb_blob_file_map(path, id, file, &why) < 0) {
        lkb_debug("unpacked layer not used: %s", why.msg);
        rc = 1;
    }
    if (rc == 0) {
        /* Small reads: only the headers are wanted, data is skipped by
         * seeking. */
        *a = archive_read_new();
        if (!*a) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        } else {
            archive_read_support_format_tar(*a);
            if (archive_read_open_filename(*a, path, 16384) != ARCHIVE_OK) {
                lkb_debug("unpacked layer not used: %s", archive_error_string(*a));
                rc = 1;
            }
        }
        if (rc != 0) {
            archive_read_free(*a);
            *a = NULL;
            lkb_blob_file_unref(*file);
            *file = NULL;
        }
    }
    if (rc == 0 && made)
        stats.made++;
    else if (rc == 0)
        stats.reused++;
    free(stamp);
    free(path);
    return rc;
}

int lkb_unpacked_trim(const char *cache_dir, struct lkb_error *err)
{
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_lrudir_trim(dir, lkb_lrudir_bound("LKB_UNPACKED_CACHE_MAX",
                                                   LKB_UNPACKED_MAX_BYTES), err);
    free(dir);
    return rc;
}

int lkb_unpacked_clean(const char *cache_dir, size_t *n, uint64_t *bytes, struct lkb_error *err)
{
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_lrudir_clean(dir, n, bytes, err);
    free(dir);
    return rc;
}

static int is_layer(const char *name)
{
    return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

int lkb_unpacked_verify(const char *cache_dir, size_t *checked, size_t *removed,
                        struct lkb_error *err)
{
    *checked = *removed = 0;
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    char **names = NULL;
    size_t n = 0;
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (lkb_fs_list_dir(dir, is_layer, &names, &n, err) < 0) {
        free(dir);
        return errno == ENOENT ? 0 : -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = lkb_fs_join(dir, names[i]), *stamp = NULL, id[LKB_DIGEST_MAX], got[LKB_DIGEST_MAX];
        uint64_t size;
        struct lkb_error why;
        if (!path || asprintf(&stamp, "%s.ok", path) < 0) {
            free(path);
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        snprintf(id, sizeof id, "sha256:%s", names[i]);
        (*checked)++;
        if (lkb_digest_file(path, got, &size, &why) < 0 || strcmp(got, id) != 0) {
            unlink(path);
            unlink(stamp);
            (*removed)++;
        } else if (write_stamp(dir, path, stamp, &why) < 0) {
            unlink(stamp); /* hashed again on its next use */
        }
        free(stamp);
        free(path);
    }
    lkb_fs_names_free(names, n);
    free(dir);
    return rc;
}
