/* index.json: the list of root descriptors, one per cached reference.
 * Read-modify-write happens under the exclusive .lock and the new file
 * replaces the old one atomically, so concurrent lkb runs never see or
 * produce a torn index. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/fs.h"
#include "util/log.h"

static char *index_path(struct lkb_cache *c) { return lkb_strf("%s/index.json", c->dir); }

int oci_index_load(struct lkb_cache *c, json_t **out, struct lkb_error *err)
{
    *out = NULL;
    char *p = index_path(c);
    if (!p)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    json_error_t je;
    json_t *idx = json_load_file(p, 0, &je);
    json_t *m = json_object_get(idx, "manifests");
    if (!idx || !json_is_object(idx) || (m && !json_is_array(m))) {
        if (idx)
            lkb_error_set(err, LKB_ERR_FETCH, "cache index %s: not an OCI image index", p);
        else
            lkb_error_set(err, LKB_ERR_FETCH, "cache index %s: %s (line %d)", p, je.text,
                          je.line);
        if (err && access(p, F_OK) == 0) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l,
                     "; 'lkb cache clean' or 'lkb cache verify' repairs it");
        }
        json_decref(idx);
        free(p);
        return -1;
    }
    if (!m)
        json_object_set_new(idx, "manifests", json_array());
    free(p);
    *out = idx;
    return 0;
}

int oci_index_load_repair(struct lkb_cache *c, json_t **out, struct lkb_error *err)
{
    struct lkb_error why;
    if (oci_index_load(c, out, &why) == 0)
        return 0;
    char *p = index_path(c), *aside = lkb_strf("%s/index.json.damaged", c->dir);
    json_t *empty = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
                              "application/vnd.oci.image.index.v1+json", "manifests");
    int rc = !p || !aside || !empty ? lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory") : 0;
    if (rc == 0 && rename(p, aside) < 0)
        rc = lkb_error_errno(err, LKB_ERR_FETCH, errno, "moving the damaged %s aside", p);
    if (rc == 0)
        rc = oci_index_save(c, empty, err);
    if (rc == 0) {
        /* The reason without the advice to run what is running now. */
        char *semi = strstr(why.msg, "; 'lkb cache clean'");
        if (semi)
            *semi = '\0';
        lkb_warn("%s; moved to %s and replaced by an empty index: its images will be fetched "
                 "again", why.msg, aside);
        *out = empty;
        empty = NULL;
    }
    json_decref(empty);
    free(p);
    free(aside);
    return rc;
}

int oci_index_save(struct lkb_cache *c, json_t *idx, struct lkb_error *err)
{
    /* go-containerregistry rewrites index.json with 3-space indentation and
     * oci-layout with 4; match it so LinuxKit and lkb can share a cache. */
    char *text = json_dumps(idx, JSON_INDENT(3));
    char *p = index_path(c);
    char *l = lkb_strf("%s/oci-layout", c->dir);
    static const char layout[] = "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";
    int rc;
    if (!text || !p || !l)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    else if ((rc = lkb_fs_write_atomic(l, layout, strlen(layout), 0644, err)) == 0)
        rc = lkb_fs_write_atomic(p, text, strlen(text), 0644, err);
    free(text);
    free(p);
    free(l);
    return rc;
}

json_t *oci_descriptor(const char *media_type, int64_t size, const char *digest,
                       const char *ref_name, json_t *platform)
{
    /* Field order as go-containerregistry writes it. */
    json_t *d = json_object();
    json_object_set_new(d, "mediaType", json_string(media_type));
    json_object_set_new(d, "size", json_integer(size));
    json_object_set_new(d, "digest", json_string(digest));
    if (ref_name) {
        json_t *a = json_object();
        json_object_set_new(a, OCI_ANNOT_REF_NAME, json_string(ref_name));
        json_object_set_new(d, "annotations", a);
    }
    if (platform)
        json_object_set(d, "platform", platform);
    return d;
}

static const char *ref_name(json_t *desc)
{
    return oci_json_str(json_object_get(desc, "annotations"), OCI_ANNOT_REF_NAME);
}

int oci_index_record(struct lkb_cache *c, json_t *const *descs, size_t n, struct lkb_error *err)
{
    int lock;
    if (oci_cache_lock(c, &lock, err) < 0)
        return -1;
    json_t *idx;
    int rc = oci_index_load(c, &idx, err);
    if (rc == 0) {
        json_t *m = json_object_get(idx, "manifests");
        for (size_t k = 0; k < n; k++) {
            const char *name = ref_name(descs[k]);
            for (size_t i = json_array_size(m); name && i-- > 0;) {
                const char *have = ref_name(json_array_get(m, i));
                if (have && strcmp(have, name) == 0)
                    json_array_remove(m, i);
            }
            json_array_append(m, descs[k]);
        }
        rc = oci_index_save(c, idx, err);
        json_decref(idx);
    }
    oci_cache_unlock(lock);
    return rc;
}

json_t *oci_index_find(json_t *idx, const char *canonical)
{
    json_t *m = json_object_get(idx, "manifests"), *d, *found_index = NULL;
    size_t i;
    json_array_foreach(m, i, d)
    {
        const char *name = ref_name(d);
        if (!name || strcmp(name, canonical) != 0)
            continue;
        const char *mt = oci_json_str(d, "mediaType");
        if (oci_mt_is_manifest(mt))
            return d;
        if (oci_mt_is_index(mt) && !found_index)
            found_index = d;
    }
    return found_index;
}

int lkb_cache_list(struct lkb_cache *c, struct lkb_cache_entry **out, size_t *n,
                   struct lkb_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *idx;
    if (oci_index_load(c, &idx, err) < 0)
        return -1;
    json_t *m = json_object_get(idx, "manifests");
    size_t cap = json_array_size(m);
    struct lkb_cache_entry *e = calloc(cap ? cap : 1, sizeof *e);
    if (!e) {
        json_decref(idx);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    size_t k = 0, i;
    json_t *d;
    json_array_foreach(m, i, d)
    {
        const char *name = ref_name(d);
        if (!name)
            continue;
        e[k].ref = strdup(name);
        e[k].digest = strdup(oci_json_str(d, "digest") ? oci_json_str(d, "digest") : "");
        e[k].media_type =
            strdup(oci_json_str(d, "mediaType") ? oci_json_str(d, "mediaType") : "");
        e[k].size = oci_json_int(d, "size", 0);
        json_t *p = json_object_get(d, "platform");
        if (json_is_object(p)) {
            const char *os = oci_json_str(p, "os"), *arch = oci_json_str(p, "architecture");
            const char *var = oci_json_str(p, "variant");
            e[k].platform = lkb_strf("%s/%s%s%s", os ? os : "", arch ? arch : "",
                                              var ? "/" : "", var ? var : "");
        }
        k++;
    }
    json_decref(idx);
    *out = e;
    *n = k;
    return 0;
}

void lkb_cache_entries_free(struct lkb_cache_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].ref);
        free(e[i].digest);
        free(e[i].media_type);
        free(e[i].platform);
    }
    free(e);
}

int lkb_cache_remove(struct lkb_cache *c, const char *ref, struct lkb_error *err)
{
    char *canon;
    if (lkb_oci_ref_canonical(ref, &canon, err) < 0)
        return -1;
    int lock;
    if (oci_cache_lock(c, &lock, err) < 0) {
        free(canon);
        return -1;
    }
    json_t *idx;
    int rc = oci_index_load(c, &idx, err);
    if (rc == 0) {
        json_t *m = json_object_get(idx, "manifests");
        size_t removed = 0;
        for (size_t i = json_array_size(m); i-- > 0;) {
            const char *name = ref_name(json_array_get(m, i));
            if (name && strcmp(name, canon) == 0) {
                json_array_remove(m, i);
                removed++;
            }
        }
        if (removed == 0)
            rc = lkb_error_set(err, LKB_ERR_USAGE, "%s is not in the cache", canon);
        else
            rc = oci_index_save(c, idx, err);
        json_decref(idx);
    }
    oci_cache_unlock(lock);
    free(canon);
    return rc;
}
