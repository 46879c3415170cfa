/* `lkb cache import FILE.tar`: an OCI image layout tar or a `docker save`
 * tar. Every regular file is streamed into the cache as a blob named by
 * its sha256 (files under blobs/sha256/ must hash to their name), so
 * nothing is unpacked to a temporary tree and the archive's member order
 * does not matter. The small metadata files are kept in memory. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/internal.h"

struct member {
    char *name;
    char digest[LKB_DIGEST_MAX];
    int64_t size;
    bool gzip;
};

struct import {
    struct lkb_cache *cache;
    struct member *m;
    size_t n;
    char *index_json, *manifest_json;
    char **refs;
    size_t n_refs;
};

static const struct member *find_member(const struct import *im, const char *name)
{
    for (size_t i = 0; i < im->n; i++)
        if (strcmp(im->m[i].name, name) == 0)
            return &im->m[i];
    return NULL;
}

static char *read_small(struct archive *a, struct archive_entry *e, struct lkb_error *err)
{
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || size > (16 << 20)) {
        lkb_error_set(err, LKB_ERR_IO, "%s is too large", archive_entry_pathname(e));
        return NULL;
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    la_ssize_t n = archive_read_data(a, buf, (size_t)size);
    if (n != size) {
        free(buf);
        lkb_error_set(err, LKB_ERR_IO, "reading %s: %s", archive_entry_pathname(e),
                      n < 0 ? archive_error_string(a) : "short read");
        return NULL;
    }
    buf[size] = '\0';
    return buf;
}

/* Stream one member into the cache. */
static int ingest_member(struct import *im, struct archive *a, const char *name,
                         struct lkb_error *err)
{
    const char *want = NULL;
    char named[LKB_DIGEST_MAX + 8];
    if (strncmp(name, "blobs/sha256/", 13) == 0) {
        if (lkb_strf_buf(named, sizeof named, NULL, "sha256:%s", name + 13) < 0 ||
            !lkb_digest_valid(named))
            return lkb_error_set(err, LKB_ERR_IO, "%s is not named by a sha256 digest", name);
        want = named;
    }
    struct oci_ingest in;
    if (oci_ingest_open(im->cache, &in, err) < 0)
        return -1;
    char buf[1 << 16];
    la_ssize_t n;
    unsigned char head[2] = {0, 0};
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
        if (in.written == 0 && n >= 2)
            memcpy(head, buf, 2);
        if (oci_ingest_write(&in, buf, (size_t)n, err) < 0) {
            oci_ingest_abort(&in);
            return -1;
        }
    }
    if (n < 0) {
        oci_ingest_abort(&in);
        return lkb_error_set(err, LKB_ERR_IO, "reading %s: %s", name, archive_error_string(a));
    }
    int64_t size = (int64_t)in.written;
    if (oci_ingest_commit(im->cache, &in, want, -1, err) < 0)
        return lkb_error_prefix(err, "archive member %s: ", name);
    struct member *m = realloc(im->m, (im->n + 1) * sizeof *m);
    if (!m)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    im->m = m;
    m = &im->m[im->n++];
    m->name = strdup(name);
    memcpy(m->digest, in.digest, sizeof m->digest);
    m->size = size;
    m->gzip = head[0] == 0x1f && head[1] == 0x8b;
    return m->name ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

static int add_ref(struct import *im, const char *canonical)
{
    char **v = realloc(im->refs, (im->n_refs + 1) * sizeof *v);
    if (!v)
        return -1;
    im->refs = v;
    return (v[im->n_refs++] = strdup(canonical)) ? 0 : -1;
}

/* Record descriptors in batches: canonical name, then the descriptor. */
static int record(struct import *im, json_t *desc, const char *name, struct lkb_error *err)
{
    char *canon;
    if (lkb_oci_ref_canonical(name, &canon, err) < 0)
        return -1;
    json_t *a = json_object_get(desc, "annotations");
    if (!json_is_object(a)) {
        a = json_object();
        json_object_set_new(desc, "annotations", a);
    }
    json_object_set_new(a, OCI_ANNOT_REF_NAME, json_string(canon));
    int rc = oci_index_record(im->cache, &desc, 1, err);
    if (rc == 0 && add_ref(im, canon) < 0)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(canon);
    return rc;
}

static int import_oci_index(struct import *im, struct lkb_error *err)
{
    json_error_t je;
    json_t *idx = json_loads(im->index_json, 0, &je);
    if (!json_is_object(idx)) {
        json_decref(idx);
        return lkb_error_set(err, LKB_ERR_IO, "index.json: %s", je.text);
    }
    size_t i;
    json_t *d;
    int rc = 0;
    json_array_foreach(json_object_get(idx, "manifests"), i, d)
    {
        json_t *a = json_object_get(d, "annotations");
        const char *name = oci_json_str(a, OCI_ANNOT_REF_NAME);
        const char *full = oci_json_str(a, OCI_ANNOT_CONTAINERD_NAME);
        /* The OCI spec allows a bare tag as ref.name; then only a full
         * name from containerd's annotation can say which image it is. */
        if (!name || (!strchr(name, '/') && !strchr(name, '.') && full))
            name = full;
        const char *digest = oci_json_str(d, "digest");
        if (!name) {
            rc = lkb_error_set(err, LKB_ERR_IO, "index.json entry %zu (%s) has no image name "
                               "annotation", i, digest ? digest : "?");
            break;
        }
        if (!oci_blob_present(im->cache, digest, oci_json_int(d, "size", -1))) {
            rc = lkb_error_set(err, LKB_ERR_IO, "index.json names %s but the archive lacks that "
                               "blob", digest ? digest : "?");
            break;
        }
        json_t *copy = json_deep_copy(d);
        rc = record(im, copy, name, err);
        json_decref(copy);
        if (rc < 0)
            break;
    }
    json_decref(idx);
    return rc;
}

static int import_docker_save(struct import *im, struct lkb_error *err)
{
    json_error_t je;
    json_t *list = json_loads(im->manifest_json, 0, &je);
    if (!json_is_array(list)) {
        json_decref(list);
        return lkb_error_set(err, LKB_ERR_IO, "manifest.json: %s", je.text);
    }
    size_t i, k;
    json_t *e, *v;
    int rc = 0;
    json_array_foreach(list, i, e)
    {
        const struct member *cfg = find_member(im, oci_json_str(e, "Config") ? oci_json_str(e, "Config") : "");
        if (!cfg) {
            rc = lkb_error_set(err, LKB_ERR_IO, "manifest.json entry %zu: config file missing", i);
            break;
        }
        /* Rebuild an OCI manifest: docker save keeps the config and the
         * layer tars (uncompressed, or gzip in old versions) only. */
        json_t *layers = json_array();
        json_array_foreach(json_object_get(e, "Layers"), k, v)
        {
            const struct member *l = find_member(im, json_string_value(v) ? json_string_value(v) : "");
            if (!l) {
                rc = lkb_error_set(err, LKB_ERR_IO, "manifest.json entry %zu: layer %s missing",
                                   i, json_string_value(v) ? json_string_value(v) : "?");
                break;
            }
            json_array_append_new(
                layers, oci_descriptor(l->gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                               : "application/vnd.oci.image.layer.v1.tar",
                                       l->size, l->digest, NULL, NULL));
        }
        json_t *man = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
                                OCI_MT_OCI_MANIFEST, "config",
                                oci_descriptor(OCI_MT_OCI_CONFIG, cfg->size, cfg->digest, NULL,
                                               NULL),
                                "layers", layers);
        char *text = rc == 0 && man ? json_dumps(man, JSON_COMPACT) : NULL;
        json_decref(man);
        if (rc < 0)
            break;
        char digest[LKB_DIGEST_MAX];
        if (!text || lkb_digest_bytes(text, strlen(text), digest, err) < 0 ||
            oci_blob_put(im->cache, digest, text, strlen(text), NULL, err) < 0) {
            free(text);
            rc = -1;
            break;
        }
        /* Platform from the config, as for a pulled single manifest. */
        char *cdata;
        size_t clen;
        json_t *platform = NULL;
        if (oci_blob_read(im->cache, cfg->digest, cfg->size, &cdata, &clen, err) == 0) {
            json_t *c = json_loadb(cdata, clen, 0, NULL);
            free(cdata);
            if (oci_json_str(c, "os") && oci_json_str(c, "architecture"))
                platform = json_pack("{s:s, s:s}", "architecture",
                                     oci_json_str(c, "architecture"), "os", oci_json_str(c, "os"));
            json_decref(c);
        }
        json_t *tags = json_object_get(e, "RepoTags");
        if (json_array_size(tags) == 0)
            rc = lkb_error_set(err, LKB_ERR_IO, "manifest.json entry %zu has no RepoTags", i);
        json_array_foreach(tags, k, v)
        {
            if (rc < 0 || !json_is_string(v))
                continue;
            json_t *d = oci_descriptor(OCI_MT_OCI_MANIFEST, (int64_t)strlen(text), digest, NULL,
                                       platform);
            rc = record(im, d, json_string_value(v), err);
            json_decref(d);
        }
        json_decref(platform);
        free(text);
        if (rc < 0)
            break;
    }
    json_decref(list);
    return rc;
}

int lkb_cache_import(struct lkb_cache *c, const char *tar_path, char ***refs, size_t *n_refs,
                     struct lkb_error *err)
{
    if (refs)
        *refs = NULL;
    if (n_refs)
        *n_refs = 0;
    struct import im = {.cache = c};
    struct archive *a = archive_read_new();
    if (!a)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    int rc = 0;
    if (archive_read_open_filename(a, tar_path, 1 << 16) != ARCHIVE_OK) {
        rc = lkb_error_set(err, LKB_ERR_IO, "%s", archive_error_string(a));
        archive_read_free(a);
        return lkb_error_prefix(err, "importing %s: ", tar_path);
    }
    if (oci_cache_gc_lock(c, false, err) < 0) {
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    int r;
    while (rc == 0 && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        if (strcmp(name, "index.json") == 0) {
            free(im.index_json);
            rc = (im.index_json = read_small(a, e, err)) ? 0 : -1;
        } else if (strcmp(name, "manifest.json") == 0) {
            free(im.manifest_json);
            rc = (im.manifest_json = read_small(a, e, err)) ? 0 : -1;
        } else if (strcmp(name, "oci-layout") != 0 && strcmp(name, "repositories") != 0) {
            rc = ingest_member(&im, a, name, err);
        }
    }
    if (rc == 0 && r == ARCHIVE_FATAL)
        rc = lkb_error_set(err, LKB_ERR_IO, "%s", archive_error_string(a));
    archive_read_free(a);
    if (rc == 0) {
        /* docker save >= 25 writes both; its index.json may lack names. */
        struct lkb_error first;
        lkb_error_clear(&first);
        if (im.index_json && import_oci_index(&im, &first) == 0 && im.n_refs > 0)
            rc = 0;
        else if (im.manifest_json)
            rc = import_docker_save(&im, err);
        else if (im.index_json) {
            *err = first;
            rc = -1;
        } else
            rc = lkb_error_set(err, LKB_ERR_IO,
                               "neither an OCI image layout (index.json) nor a docker save "
                               "archive (manifest.json)");
    }
    oci_cache_gc_unlock(c);
    for (size_t i = 0; i < im.n; i++)
        free(im.m[i].name);
    free(im.m);
    free(im.index_json);
    free(im.manifest_json);
    if (rc == 0 && refs) {
        *refs = im.refs;
        if (n_refs)
            *n_refs = im.n_refs;
    } else {
        for (size_t i = 0; i < im.n_refs; i++)
            free(im.refs[i]);
        free(im.refs);
    }
    return rc < 0 ? lkb_error_prefix(err, "importing %s: ", tar_path) : 0;
}
