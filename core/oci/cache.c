/* The cache directory: opening/creating it, blob files, ingest temp files
 * and the two lock files. index.json lives in cache_index.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/fs.h"
#include "util/stamp.h"
#include "util/log.h"

static const char layout_json[] = "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";
static const char empty_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":[]}";

int lkb_cache_default_dir(char **out, struct lkb_error *err)
{
    const char *v = getenv("LKB_CACHE");
    if (v && *v)
        *out = strdup(v);
    else if ((v = getenv("XDG_CACHE_HOME")) && *v)
        *out = lkb_strf("%s/lkb", v);
    else if ((v = getenv("HOME")) && *v)
        *out = lkb_strf("%s/.cache/lkb", v);
    else
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "no cache directory: set -cache, LKB_CACHE or HOME");
    return *out ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

struct lkb_cache *lkb_cache_open(const char *dir, struct lkb_error *err)
{
    struct lkb_cache *c = calloc(1, sizeof *c);
    if (!c) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    c->gc_fd = -1;
    if (dir ? !(c->dir = strdup(dir)) : lkb_cache_default_dir(&c->dir, err) < 0)
        goto fail;
    c->blobs = lkb_strf("%s/blobs/sha256", c->dir);
    c->ingest = lkb_strf("%s/ingest", c->dir);
    if (!c->blobs || !c->ingest) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        goto fail;
    }
    if (lkb_fs_mkdir_p(c->blobs, 0777, err) < 0 || lkb_fs_mkdir_p(c->ingest, 0777, err) < 0)
        goto fail;
    /* Initialise oci-layout and an empty index.json once, under the lock
     * so two first runs do not race. */
    int lock;
    if (oci_cache_lock(c, &lock, err) < 0)
        goto fail;
    char *p = lkb_strf("%s/oci-layout", c->dir);
    char *q = lkb_strf("%s/index.json", c->dir);
    int rc = 0;
    if (!p || !q)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0 && access(p, F_OK) < 0)
        rc = lkb_fs_write_atomic(p, layout_json, strlen(layout_json), 0644, err);
    if (rc == 0 && access(q, F_OK) < 0)
        rc = lkb_fs_write_atomic(q, empty_index, strlen(empty_index), 0644, err);
    free(p);
    free(q);
    oci_cache_unlock(lock);
    if (rc < 0)
        goto fail;
    if (oci_cache_attach_read_only(c, err) < 0) {
        lkb_cache_close(c);
        return NULL;
    }
    return c;
fail:
    lkb_error_prefix(err, "opening cache %s: ", c->dir ? c->dir : "");
    lkb_cache_close(c);
    return NULL;
}

void lkb_cache_close(struct lkb_cache *c)
{
    if (!c)
        return;
    if (c->gc_fd >= 0)
        close(c->gc_fd);
    free(c->dir);
    free(c->blobs);
    free(c->ingest);
    for (size_t i = 0; i < c->n_lower; i++)
        lkb_cache_close(c->lower[i]);
    free(c->lower);
    oci_strlist_clear(&c->bad);
    free(c);
}

const char *lkb_cache_dir(const struct lkb_cache *c) { return c->dir; }

/* Path of DIGEST in the cache directory of C alone. */
int oci_blob_own_path(const struct lkb_cache *c, const char *digest, char **out,
                      struct lkb_error *err)
{
    *out = NULL;
    if (!lkb_digest_valid(digest))
        return lkb_error_set(err, LKB_ERR_FETCH, "unsupported or malformed digest '%s'",
                             digest ? digest : "(null)");
    *out = lkb_strf("%s/%s", c->blobs, digest + 7);
    return *out ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

int lkb_cache_blob_path(const struct lkb_cache *c, const char *digest, char **out,
                        struct lkb_error *err)
{
    struct lkb_cache *home = oci_blob_home((struct lkb_cache *)c, digest, -1);
    return oci_blob_own_path(home ? home : c, digest, out, err);
}

int64_t oci_blob_size(const struct lkb_cache *c, const char *digest)
{
    char *p;
    if (lkb_cache_blob_path(c, digest, &p, NULL) < 0)
        return -1;
    struct stat st;
    int rc = stat(p, &st);
    free(p);
    return rc == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

bool oci_blob_present(const struct lkb_cache *c, const char *digest, int64_t size)
{
    return oci_blob_home((struct lkb_cache *)c, digest, size) != NULL;
}

/* Remove a blob that failed verification so the next pull refetches it. */
static void drop_blob(const char *path)
{
    if (unlink(path) == 0)
        lkb_debug("removed corrupt cache blob %s", path);
}

/* The directory of the stat stamps (util/stamp.h) of blobs hashed once,
 * so later builds need not hash them again: <dir>/verified for the blobs
 * of the writable cache C, <dir>/verified/lower for those of its
 * read-only lower caches (which cannot be written; a stamp records the
 * file's device and inode, so one of another copy never matches). NULL
 * when C itself is read-only. `lkb cache verify` hashes regardless. */
static char *stamp_dir(const struct lkb_cache *c, const struct lkb_cache *home)
{
    if (c->read_only)
        return NULL;
    return lkb_strf(home == c ? "%s/verified" : "%s/verified/lower", c->dir);
}

/* Only saves time: errors are ignored. */
static void stamp_in(const struct lkb_cache *c, const struct lkb_cache *home, const char *digest,
                     const char *path)
{
    char *dir = stamp_dir(c, home), *s = dir ? lkb_strf("%s/%s", dir, digest + 7) : NULL;
    struct lkb_error ignored;
    if (s && lkb_fs_mkdir_p(dir, 0755, &ignored) == 0)
        lkb_stamp_write(path, s, &ignored);
    free(dir);
    free(s);
}

void oci_blob_stamp(const struct lkb_cache *c, const char *digest, const char *path)
{
    stamp_in(c, c, digest, path);
}

/* Whether the copy at path was hashed before and has not changed since. */
static bool stamped(const struct lkb_cache *c, const struct lkb_cache *home, const char *digest,
                    const char *path, int64_t size)
{
    char *dir = stamp_dir(c, home), *s = dir ? lkb_strf("%s/%s", dir, digest + 7) : NULL;
    struct stat st;
    bool ok = s && lkb_stamp_matches(path, s) && stat(path, &st) == 0 &&
              (size < 0 || st.st_size == size);
    free(dir);
    free(s);
    return ok;
}

/* Hash the copy of DIGEST in HOME, C or one of its lower caches (unless
 * its stamp says it was and it has not changed); a corrupt one is deleted
 * (writable) or skipped from now on (read-only). */
static int verify_in(struct lkb_cache *c, struct lkb_cache *home, const char *digest,
                     int64_t size, struct lkb_error *err)
{
    char *p;
    if (oci_blob_own_path(home, digest, &p, err) < 0)
        return -1;
    if (stamped(c, home, digest, p, size)) {
        free(p);
        return 0;
    }
    char got[LKB_DIGEST_MAX];
    uint64_t n;
    if (lkb_digest_file(p, got, &n, err) < 0) {
        free(p);
        if (err)
            err->kind = LKB_ERR_FETCH;
        return lkb_error_prefix(err, "blob %s not in cache: ", digest);
    }
    int rc = 0;
    if (size >= 0 && n != (uint64_t)size)
        rc = lkb_error_set(err, LKB_ERR_FETCH,
                           "cached blob %s is corrupt: %llu bytes, expected %lld", digest,
                           (unsigned long long)n, (long long)size);
    else if (strcmp(got, digest) != 0)
        rc = lkb_error_set(err, LKB_ERR_FETCH, "cached blob %s is corrupt: content hashes to %s",
                           digest, got);
    if (rc < 0 && home->read_only)
        oci_cache_mark_bad(home, digest, err ? err->msg : "corrupt blob");
    else if (rc < 0)
        drop_blob(p);
    else
        stamp_in(c, home, digest, p);
    free(p);
    return rc;
}

int oci_blob_verify_home(struct lkb_cache *c, const char *digest, int64_t size,
                         struct lkb_cache **home, struct lkb_error *err)
{
    for (struct lkb_cache *prev = NULL;;) {
        struct lkb_cache *h = oci_blob_home(c, digest, size);
        if (!h)
            h = c; /* absent everywhere: the error names the writable cache */
        int rc = verify_in(c, h, digest, size, err);
        if (rc == 0 || !h->read_only || h == prev) {
            if (home)
                *home = h;
            return rc;
        }
        prev = h;
    }
}

int lkb_cache_blob_verify(struct lkb_cache *c, const char *digest, int64_t size,
                          struct lkb_error *err)
{
    return oci_blob_verify_home(c, digest, size, NULL, err);
}

static int read_in(struct lkb_cache *c, const char *digest, int64_t size, char **data,
                   size_t *len, struct lkb_error *err)
{
    *data = NULL;
    char *p;
    if (oci_blob_own_path(c, digest, &p, err) < 0)
        return -1;
    char *buf;
    size_t n;
    if (lkb_fs_read_file(p, &buf, &n, err) < 0) {
        free(p);
        if (err)
            err->kind = LKB_ERR_FETCH;
        return lkb_error_prefix(err, "blob %s not in cache: ", digest);
    }
    char got[LKB_DIGEST_MAX];
    int rc = lkb_digest_bytes(buf, n, got, err);
    if (rc == 0 && size >= 0 && n != (size_t)size)
        rc = lkb_error_set(err, LKB_ERR_FETCH,
                           "cached blob %s is corrupt: %zu bytes, expected %lld", digest, n,
                           (long long)size);
    else if (rc == 0 && strcmp(got, digest) != 0)
        rc = lkb_error_set(err, LKB_ERR_FETCH, "cached blob %s is corrupt: content hashes to %s",
                           digest, got);
    if (rc < 0) {
        if (c->read_only)
            oci_cache_mark_bad(c, digest, err ? err->msg : "corrupt blob");
        else
            drop_blob(p);
        free(p);
        free(buf);
        return -1;
    }
    free(p);
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

int oci_blob_read(struct lkb_cache *c, const char *digest, int64_t size, char **data,
                  size_t *len, struct lkb_error *err)
{
    for (struct lkb_cache *prev = NULL;;) {
        struct lkb_cache *h = oci_blob_home(c, digest, size);
        int rc = read_in(h ? h : c, digest, size, data, len, err);
        if (rc == 0 || !h || !h->read_only || h == prev)
            return rc; /* h == prev: it could not even be remembered as bad */
        prev = h;
    }
}

static int open_lock(struct lkb_cache *c, const char *name, struct lkb_error *err)
{
    char *p = lkb_strf("%s/%s", c->dir, name);
    if (!p)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        lkb_error_errno(err, LKB_ERR_IO, errno, "opening lock file %s", p);
    free(p);
    return fd;
}

static int take(int fd, int op, const char *what, struct lkb_error *err)
{
    while (flock(fd, op) < 0) {
        if (errno != EINTR)
            return lkb_error_errno(err, LKB_ERR_IO, errno, "locking %s", what);
    }
    return 0;
}

int oci_cache_lock(struct lkb_cache *c, int *fd, struct lkb_error *err)
{
    *fd = open_lock(c, ".lock", err);
    if (*fd < 0)
        return -1;
    if (take(*fd, LOCK_EX, ".lock", err) < 0) {
        close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

void oci_cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing drops the flock */
}

int oci_cache_gc_lock(struct lkb_cache *c, bool exclusive, struct lkb_error *err)
{
    if (c->gc_fd < 0 && (c->gc_fd = open_lock(c, ".gclock", err)) < 0)
        return -1;
    return take(c->gc_fd, exclusive ? LOCK_EX : LOCK_SH, ".gclock", err);
}

void oci_cache_gc_unlock(struct lkb_cache *c)
{
    if (c->gc_fd >= 0)
        flock(c->gc_fd, LOCK_UN);
}
