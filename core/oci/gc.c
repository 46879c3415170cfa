/* `lkb cache clean`: delete blobs that no index.json root reaches. Runs
 * under the exclusive .gclock, so it waits for pulls and imports that have
 * written blobs but not yet recorded them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/log.h"

struct digest_set {
    char **v;
    size_t n, cap;
};

static int set_add(struct digest_set *s, const char *d)
{
    if (!d)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], d) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    return (s->v[s->n++] = strdup(d)) ? 0 : -1;
}

static bool set_has(const struct digest_set *s, const char *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], d) == 0)
            return true;
    return false;
}

/* Mark DESC and everything it reaches that is present in the cache. */
static int mark(struct lkb_cache *c, json_t *desc, struct digest_set *live, int depth)
{
    const char *digest = oci_json_str(desc, "digest");
    if (!lkb_digest_valid(digest) || set_has(live, digest) || depth > 8)
        return 0;
    if (set_add(live, digest) < 0)
        return -1;
    const char *mt = oci_json_str(desc, "mediaType");
    if (!oci_mt_is_index(mt) && !oci_mt_is_manifest(mt))
        return 0;
    char *data;
    size_t len;
    struct lkb_error ignore;
    if (oci_blob_read(c, digest, oci_json_int(desc, "size", -1), &data, &len, &ignore) < 0)
        return 0; /* not pulled (another platform) or corrupt: nothing below it */
    json_t *j = json_loadb(data, len, 0, NULL);
    free(data);
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(j, "manifests"), i, d)
    {
        if (rc == 0)
            rc = mark(c, d, live, depth + 1);
    }
    if (rc == 0 && json_is_object(json_object_get(j, "config")))
        rc = set_add(live, oci_json_str(json_object_get(j, "config"), "digest"));
    json_array_foreach(json_object_get(j, "layers"), i, d)
    {
        if (rc == 0)
            rc = set_add(live, oci_json_str(d, "digest"));
    }
    json_decref(j);
    return rc;
}

/* Remove every entry of DIR not in LIVE (NULL: all), counting them. */
static int sweep(const char *dir, const struct digest_set *live, size_t *blobs, uint64_t *bytes,
                 struct lkb_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char digest[sizeof e->d_name + 8];
        snprintf(digest, sizeof digest, "sha256:%s", e->d_name);
        if (live && set_has(live, digest))
            continue;
        char *p = lkb_strf("%s/%s", dir, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && unlink(p) == 0) {
            (*blobs)++;
            *bytes += (uint64_t)st.st_size;
        } else if (p && errno != ENOENT) {
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "removing %s", p);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* Whether a blob named hex is in one of the n caches. */
static bool blob_in(struct lkb_cache *const *caches, size_t n, const char *hex)
{
    for (size_t i = 0; i < n; i++) {
        char *b = lkb_strf("%s/%s", caches[i]->blobs, hex);
        bool there = !b || access(b, F_OK) == 0 || errno != ENOENT;
        free(b);
        if (there)
            return true;
    }
    return false;
}

/* The stamps of blobs that are gone (cache.c: verified/ for this cache's
 * blobs, verified/lower/ for those of the read-only caches attached now),
 * so the directory shrinks with the cache. Best effort: a stale stamp only
 * costs a file, a missing one a hash. */
static void sweep_stamps(struct lkb_cache *c, bool lower)
{
    char *dir = lkb_strf(lower ? "%s/verified/lower" : "%s/verified", c->dir);
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || e->d_type == DT_DIR)
            continue;
        if (!(lower ? blob_in(c->lower, c->n_lower, e->d_name) : blob_in(&c, 1, e->d_name)))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* Both locks (no pull or import runs meanwhile) and index.json, repaired
 * if damaged. */
static int lock_and_load(struct lkb_cache *c, int *lock, json_t **idx, struct lkb_error *err)
{
    if (oci_cache_gc_lock(c, true, err) < 0)
        return -1;
    if (oci_cache_lock(c, lock, err) < 0) {
        oci_cache_gc_unlock(c);
        return -1;
    }
    if (oci_index_load_repair(c, idx, err) < 0) {
        oci_cache_unlock(*lock);
        oci_cache_gc_unlock(c);
        return -1;
    }
    return 0;
}

int lkb_cache_gc(struct lkb_cache *c, bool all, size_t *freed_blobs, uint64_t *freed_bytes,
                 struct lkb_error *err)
{
    size_t blobs = 0, ingest_files = 0;
    uint64_t bytes = 0, ingest_bytes = 0;
    int lock;
    json_t *idx = NULL;
    if (lock_and_load(c, &lock, &idx, err) < 0)
        return -1;
    struct digest_set live = {0};
    int rc = 0;
    if (rc == 0 && all) {
        json_array_clear(json_object_get(idx, "manifests"));
        rc = oci_index_save(c, idx, err);
        if (rc == 0)
            rc = sweep(c->blobs, NULL, &blobs, &bytes, err);
    } else if (rc == 0) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(idx, "manifests"), i, d)
        {
            if (rc == 0 && mark(c, d, &live, 0) < 0)
                rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        if (rc == 0)
            rc = sweep(c->blobs, &live, &blobs, &bytes, err);
    }
    /* Nobody is ingesting while we hold .gclock exclusively. */
    if (rc == 0)
        rc = sweep(c->ingest, NULL, &ingest_files, &ingest_bytes, err);
    if (rc == 0) {
        sweep_stamps(c, false);
        sweep_stamps(c, true);
    }
    for (size_t i = 0; i < live.n; i++)
        free(live.v[i]);
    free(live.v);
    json_decref(idx);
    oci_cache_unlock(lock);
    oci_cache_gc_unlock(c);
    if (freed_blobs)
        *freed_blobs = blobs;
    if (freed_bytes)
        *freed_bytes = bytes + ingest_bytes;
    return rc;
}

/* Rehash every blob: one whose content does not match its name (a bit
 * flip, a truncation, an empty file) is deleted, so the next pull fetches
 * it again. A damaged index.json is repaired first. */
int lkb_cache_verify(struct lkb_cache *c, size_t *checked, size_t *removed, struct lkb_error *err)
{
    *checked = *removed = 0;
    int lock;
    json_t *idx = NULL;
    if (lock_and_load(c, &lock, &idx, err) < 0)
        return -1;
    json_decref(idx);
    int rc = 0;
    DIR *d = rc == 0 ? opendir(c->blobs) : NULL;
    if (rc == 0 && !d && errno != ENOENT)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", c->blobs);
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char *p = lkb_strf("%s/%s", c->blobs, e->d_name), *want = lkb_strf("sha256:%s", e->d_name);
        char got[LKB_DIGEST_MAX];
        struct lkb_error why;
        if (!p || !want) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        } else if (lkb_digest_file(p, got, NULL, &why) < 0 || strcmp(got, want) != 0) {
            if (unlink(p) == 0) {
                (*removed)++;
                lkb_warn("removed corrupt cache blob %s", want);
            }
        }
        (*checked)++;
        free(p);
        free(want);
    }
    if (d)
        closedir(d);
    oci_cache_unlock(lock);
    oci_cache_gc_unlock(c);
    return rc;
}
