/* Read-only shared caches layered under the writable one (-cache-ro DIR,
 * LKB_CACHE_PATH): blobs are looked up in them first, names after the
 * writable index; nothing here ever creates, locks, changes or deletes a
 * file in them. A blob found corrupt in one is remembered for the process
 * and skipped, so a fresh copy is fetched into the writable cache. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/log.h"

static struct oci_strlist ro_dirs;

int lkb_cache_ro_add(const char *dir, struct lkb_error *err)
{
    if (!*dir)
        return lkb_error_set(err, LKB_ERR_USAGE, "-cache-ro: empty directory name");
    return oci_strlist_add(&ro_dirs, dir, err);
}

void lkb_cache_ro_reset(void) { oci_strlist_clear(&ro_dirs); }

static bool same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int lkb_cache_add_read_only(struct lkb_cache *c, const char *dir, struct lkb_error *err)
{
    if (same_dir(dir, c->dir))
        return 0; /* the writable cache itself: nothing to layer */
    for (size_t i = 0; i < c->n_lower; i++)
        if (same_dir(dir, c->lower[i]->dir))
            return 0;
    struct lkb_cache *r = calloc(1, sizeof *r);
    struct lkb_cache **v = realloc(c->lower, (c->n_lower + 1) * sizeof *v);
    if (v)
        c->lower = v;
    if (!r || !v || !(r->dir = strdup(dir)) || !(r->blobs = lkb_strf("%s/blobs/sha256", dir))) {
        lkb_cache_close(r);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    r->read_only = true;
    r->gc_fd = -1;
    /* It must be a cache already: an index and a blob directory. */
    json_t *idx;
    struct stat st;
    int st_rc = stat(r->blobs, &st);
    if (st_rc < 0 || !S_ISDIR(st.st_mode)) {
        lkb_error_errno(err, LKB_ERR_USAGE, st_rc < 0 ? errno : ENOTDIR, "%s", r->blobs);
        lkb_cache_close(r);
        return lkb_error_prefix(err, "read-only cache %s is not an lkb cache: ", dir);
    }
    if (oci_index_load(r, &idx, err) < 0) {
        lkb_cache_close(r);
        if (err)
            err->kind = LKB_ERR_USAGE;
        return lkb_error_prefix(err, "read-only cache %s: ", dir);
    }
    json_decref(idx);
    c->lower[c->n_lower++] = r;
    return 0;
}

/* The -cache-ro directories, then LKB_CACHE_PATH's (colon-separated). */
int oci_cache_attach_read_only(struct lkb_cache *c, struct lkb_error *err)
{
    for (size_t i = 0; i < ro_dirs.n; i++)
        if (lkb_cache_add_read_only(c, ro_dirs.v[i], err) < 0)
            return -1;
    const char *env = getenv("LKB_CACHE_PATH");
    for (const char *p = env ? env : ""; *p;) {
        size_t len = strcspn(p, ":");
        if (len) {
            char *dir = strndup(p, len);
            int rc = dir ? lkb_cache_add_read_only(c, dir, err)
                         : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            free(dir);
            if (rc < 0)
                return lkb_error_prefix(err, "LKB_CACHE_PATH: ");
        }
        p += len + (p[len] == ':');
    }
    return 0;
}

void oci_cache_mark_bad(struct lkb_cache *r, const char *digest, const char *why)
{
    if (oci_strlist_has(&r->bad, digest))
        return;
    lkb_warn("read-only cache %s: %s; not using it", r->dir, why);
    struct lkb_error ignore; /* out of memory: callers stop after one more try */
    oci_strlist_add(&r->bad, digest, &ignore);
}

/* Size of DIGEST's file in one cache directory, -1 if absent. */
static int64_t size_in(const struct lkb_cache *c, const char *digest)
{
    char *p = lkb_strf("%s/%s", c->blobs, digest + 7);
    struct stat st;
    int rc = p ? stat(p, &st) : -1;
    free(p);
    return rc == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

struct lkb_cache *oci_blob_home(struct lkb_cache *c, const char *digest, int64_t size)
{
    if (!lkb_digest_valid(digest))
        return NULL;
    for (size_t i = 0; i < c->n_lower; i++) {
        struct lkb_cache *r = c->lower[i];
        int64_t have = oci_strlist_has(&r->bad, digest) ? -1 : size_in(r, digest);
        if (have >= 0 && (size < 0 || have == size))
            return r;
    }
    int64_t have = size_in(c, digest);
    return have >= 0 && (size < 0 || have == size) ? c : NULL;
}
