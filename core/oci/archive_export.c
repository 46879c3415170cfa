/* `lkb cache export REF FILE.tar`: one image as an OCI image layout tar. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/fs.h"
#include "util/log.h"

struct blob_list {
    char **digest;
    size_t n;
};

static int add(struct blob_list *l, const char *d)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->digest[i], d) == 0)
            return 0;
    char **v = realloc(l->digest, (l->n + 1) * sizeof *v);
    if (!v)
        return -1;
    l->digest = v;
    return (v[l->n++] = strdup(d)) ? 0 : -1;
}

/* Blobs an image manifest needs; all must be cached. */
static int collect_manifest(struct lkb_cache *c, json_t *desc, struct blob_list *l,
                            struct lkb_error *err)
{
    const char *digest = oci_json_str(desc, "digest");
    char *data;
    size_t len;
    if (oci_blob_read(c, digest, oci_json_int(desc, "size", -1), &data, &len, err) < 0)
        return -1;
    json_t *m = json_loadb(data, len, 0, NULL);
    free(data);
    json_t *cfg, *layers;
    int rc = oci_manifest_parse(m, &cfg, &layers, err);
    if (rc == 0 && add(l, digest) < 0)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    size_t count = rc == 0 ? 1 + json_array_size(layers) : 0;
    for (size_t k = 0; k < count && rc == 0; k++) {
        json_t *d = k == 0 ? cfg : json_array_get(layers, k - 1);
        const char *dg = oci_json_str(d, "digest");
        if (!oci_blob_present(c, dg, oci_json_int(d, "size", -1)))
            rc = lkb_error_set(err, LKB_ERR_FETCH, "blob %s of manifest %s is not in the cache",
                               dg, digest);
        else if (add(l, dg) < 0)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    json_decref(m);
    return rc;
}

static int write_entry(struct archive *a, const char *name, const void *data, size_t len,
                       const char *file, struct lkb_error *err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, name[strlen(name) - 1] == '/' ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, name[strlen(name) - 1] == '/' ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free(e);
    if (rc == 0 && data && len && archive_write_data(a, data, len) != (la_ssize_t)len)
        rc = -1;
    if (rc == 0 && file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", file);
        char buf[1 << 16];
        ssize_t n;
        while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0)
            if (archive_write_data(a, buf, (size_t)n) != n)
                rc = -1;
        close(fd);
    }
    if (rc < 0)
        return lkb_error_set(err, LKB_ERR_IO, "writing %s: %s", name, archive_error_string(a));
    return 0;
}

/* The root descriptor of CANON (a copy) and every cached blob it reaches. */
static int collect_root(struct lkb_cache *c, const char *canon, json_t **root_out,
                        struct blob_list *blobs, struct lkb_error *err)
{
    json_t *root = NULL, *root_index = NULL;
    /* The writable index first, then the read-only caches, as a build. */
    for (size_t k = 0; k <= c->n_lower && !root; k++) {
        json_t *idx;
        if (oci_index_load(k ? c->lower[k - 1] : c, &idx, err) < 0)
            return -1;
        root = json_deep_copy(oci_index_find(idx, canon));
        json_decref(idx);
    }
    if (!root)
        return lkb_error_set(err, LKB_ERR_USAGE, "%s is not in the cache", canon);
    int rc = 0;
    const char *rd = oci_json_str(root, "digest");
    if (oci_mt_is_index(oci_json_str(root, "mediaType"))) {
        char *data;
        size_t len;
        if ((rc = oci_blob_read(c, rd, oci_json_int(root, "size", -1), &data, &len, err)) < 0)
            goto out;
        root_index = json_loadb(data, len, 0, NULL);
        free(data);
        add(blobs, rd);
        size_t i, skipped = 0;
        json_t *d;
        json_array_foreach(json_object_get(root_index, "manifests"), i, d)
        {
            struct lkb_error ignore;
            if (oci_mt_is_manifest(oci_json_str(d, "mediaType")) &&
                collect_manifest(c, d, blobs, &ignore) == 0)
                continue;
            skipped++;
        }
        if (skipped)
            lkb_debug("export %s: %zu index entries not in the cache are left out", canon,
                      skipped);
    } else {
        rc = collect_manifest(c, root, blobs, err);
    }
out:
    json_decref(root_index);
    if (rc < 0) {
        json_decref(root);
        return lkb_error_prefix(err, "%s: ", canon);
    }
    *root_out = root;
    return 0;
}

int lkb_cache_export(struct lkb_cache *c, const char *ref, const char *tar_path,
                     struct lkb_error *err)
{
    return lkb_cache_export_many(c, &ref, 1, tar_path, err);
}

int lkb_cache_export_many(struct lkb_cache *c, const char *const *refs, size_t n_refs,
                          const char *tar_path, struct lkb_error *err)
{
    json_t *out_index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
                                  OCI_MT_OCI_INDEX, "manifests");
    struct blob_list blobs = {0};
    struct archive *a = NULL;
    struct lkb_atomic_file f = {.fd = -1};
    int rc = out_index ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    for (size_t k = 0; k < n_refs && rc == 0; k++) {
        char *canon;
        json_t *root;
        if ((rc = lkb_oci_ref_canonical(refs[k], &canon, err)) < 0)
            break;
        if ((rc = collect_root(c, canon, &root, &blobs, err)) == 0)
            json_array_append_new(json_object_get(out_index, "manifests"), root);
        free(canon);
    }
    if (rc < 0)
        goto out;
    char *index_text = json_dumps(out_index, JSON_INDENT(3));
    static const char layout[] = "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}";
    if ((rc = lkb_atomic_file_open(&f, tar_path, 0644, err)) < 0) {
        free(index_text);
        goto out;
    }
    a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_fd(a, f.fd) != ARCHIVE_OK) {
        rc = lkb_error_set(err, LKB_ERR_IO, "%s: %s", tar_path, archive_error_string(a));
        free(index_text);
        goto out;
    }
    rc = write_entry(a, "oci-layout", layout, strlen(layout), NULL, err);
    if (rc == 0)
        rc = write_entry(a, "index.json", index_text, strlen(index_text), NULL, err);
    free(index_text);
    if (rc == 0)
        rc = write_entry(a, "blobs/", NULL, 0, NULL, err);
    if (rc == 0)
        rc = write_entry(a, "blobs/sha256/", NULL, 0, NULL, err);
    for (size_t i = 0; i < blobs.n && rc == 0; i++) {
        char *path, *name = lkb_strf("blobs/sha256/%s", blobs.digest[i] + 7);
        int64_t size = oci_blob_size(c, blobs.digest[i]);
        if (!name || lkb_cache_blob_path(c, blobs.digest[i], &path, err) < 0) {
            free(name);
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        rc = write_entry(a, name, NULL, (size_t)size, path, err);
        free(name);
        free(path);
    }
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = lkb_error_set(err, LKB_ERR_IO, "%s: %s", tar_path, archive_error_string(a));
    if (rc == 0)
        rc = lkb_atomic_file_commit(&f, err);
out:
    if (a)
        archive_write_free(a);
    if (rc < 0 && f.tmp_path)
        lkb_atomic_file_abort(&f);
    for (size_t i = 0; i < blobs.n; i++)
        free(blobs.digest[i]);
    free(blobs.digest);
    json_decref(out_index);
    if (rc < 0)
        lkb_error_prefix(err, "exporting to %s: ", tar_path);
    return rc;
}
