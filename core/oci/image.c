/* Resolving a reference + platform from the cache (spec §15.2) into a
 * manifest, its config and the ordered layer blobs; opening layers. */
#include <archive.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/internal.h"

void lkb_image_free(struct lkb_image *im)
{
    if (!im)
        return;
    free(im->ref);
    free(im->arch);
    free(im->root_digest);
    free(im->manifest_digest);
    free(im->manifest_media_type);
    free(im->config_digest);
    free(im->attestation_digest);
    json_decref(im->manifest);
    json_decref(im->config);
    for (size_t i = 0; i < im->n_layers; i++) {
        free(im->layers[i].digest);
        free(im->layers[i].media_type);
        free(im->layers[i].path);
    }
    free(im->layers);
    free(im);
}

/* Read and parse a JSON blob, verifying it. */
static int read_json_blob(struct lkb_cache *c, json_t *desc, json_t **out, struct lkb_error *err)
{
    const char *digest = oci_json_str(desc, "digest");
    char *data;
    size_t len;
    if (oci_blob_read(c, digest, oci_json_int(desc, "size", -1), &data, &len, err) < 0)
        return -1;
    json_error_t je;
    *out = json_loadb(data, len, 0, &je);
    free(data);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return lkb_error_set(err, LKB_ERR_FETCH, "blob %s is not a JSON object: %s", digest,
                             je.text);
    }
    return 0;
}

/* Point L at the cache copy of its blob (a read-only cache's first), after
 * a full hash when VERIFY says so. */
static int locate_layer(struct lkb_cache *c, struct lkb_layer *L, enum oci_verify verify,
                        struct lkb_error *err)
{
    struct lkb_cache *home = oci_blob_home(c, L->digest, L->size);
    if (!home) {
        int64_t have = oci_blob_size(c, L->digest);
        if (have < 0)
            return lkb_error_set(err, LKB_ERR_FETCH, "layer %s is missing from the cache",
                                 L->digest);
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "cached layer %s is truncated or corrupt (%lld bytes, expected "
                             "%lld)",
                             L->digest, (long long)have, (long long)L->size);
    }
    if (verify == OCI_VERIFY_FULL) {
        if (oci_blob_verify_home(c, L->digest, L->size, &home, err) < 0)
            return -1;
        L->verified = true;
    }
    L->read_only = home->read_only;
    if (!(L->path = lkb_strf("%s/%s", home->blobs, L->digest + 7)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return 0;
}

/* Resolve ROOT (a descriptor from some cache's index.json). */
static int resolve_root(struct lkb_cache *c, json_t *root, const char *canonical,
                        const struct oci_platform *platform, const char *arch_text,
                        enum oci_verify verify, struct lkb_image **out, struct lkb_error *err)
{
    *out = NULL;
    char pf[100];
    oci_platform_format(platform, pf, sizeof pf);
    json_t *root_index = NULL, *manifest = NULL, *config = NULL;
    struct lkb_image *im = calloc(1, sizeof *im);
    if (!im)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    im->ref = strdup(canonical);
    im->arch = strdup(arch_text);
    im->root_digest = strdup(oci_json_str(root, "digest") ? oci_json_str(root, "digest") : "");
    json_t *mdesc = root;
    if (oci_mt_is_index(oci_json_str(root, "mediaType"))) {
        if (read_json_blob(c, root, &root_index, err) < 0)
            goto fail;
        mdesc = oci_index_select(root_index, platform);
        if (!mdesc) {
            lkb_error_set(err, LKB_ERR_FETCH, "index %s does not contain target platform %s",
                          canonical, pf);
            goto fail;
        }
    }
    im->manifest_digest = strdup(oci_json_str(mdesc, "digest") ? oci_json_str(mdesc, "digest") : "");
    json_t *adesc = root_index && im->manifest_digest
                        ? oci_attestation_find(root_index, im->manifest_digest)
                        : NULL;
    if (adesc && oci_json_str(adesc, "digest")) { /* checked when read (attest.c) */
        im->attestation_digest = strdup(oci_json_str(adesc, "digest"));
        im->attestation_size = oci_json_int(adesc, "size", -1);
        if (!im->attestation_digest) {
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            goto fail;
        }
    }
    if (read_json_blob(c, mdesc, &manifest, err) < 0)
        goto fail;
    im->manifest_media_type =
        strdup(oci_manifest_media_type(oci_json_str(mdesc, "mediaType"), manifest));
    if (!oci_mt_is_manifest(im->manifest_media_type)) {
        lkb_error_set(err, LKB_ERR_FETCH, "%s: %s is neither an image nor an index (%s)",
                      canonical, im->manifest_digest, im->manifest_media_type);
        goto fail;
    }
    json_t *cdesc, *layers;
    if (oci_manifest_parse(manifest, &cdesc, &layers, err) < 0)
        goto fail;
    im->config_digest = strdup(oci_json_str(cdesc, "digest"));
    if (read_json_blob(c, cdesc, &config, err) < 0)
        goto fail;
    im->n_layers = json_array_size(layers);
    im->layers = calloc(im->n_layers ? im->n_layers : 1, sizeof *im->layers);
    if (!im->layers || !im->ref || !im->arch || !im->root_digest || !im->manifest_digest ||
        !im->manifest_media_type || !im->config_digest) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < im->n_layers; i++) {
        json_t *l = json_array_get(layers, i);
        struct lkb_layer *L = &im->layers[i];
        const char *mt = oci_json_str(l, "mediaType");
        L->digest = strdup(oci_json_str(l, "digest"));
        L->media_type = strdup(mt ? mt : "application/vnd.oci.image.layer.v1.tar");
        L->size = oci_json_int(l, "size", -1);
        if (!L->digest || !L->media_type) {
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            goto fail;
        }
        if (!lkb_digest_valid(L->digest)) {
            lkb_error_set(err, LKB_ERR_FETCH, "layer with a malformed digest '%s'", L->digest);
            goto fail;
        }
        if (locate_layer(c, L, verify, err) < 0)
            goto fail;
    }
    im->manifest = manifest;
    im->config = config;
    json_decref(root_index);
    *out = im;
    return 0;
fail:
    json_decref(root_index);
    json_decref(manifest);
    json_decref(config);
    lkb_image_free(im);
    return lkb_error_prefix(err, "%s (%s): ", canonical, pf);
}

int oci_image_resolve(struct lkb_cache *c, const char *canonical,
                      const struct oci_platform *platform, const char *arch_text,
                      enum oci_verify verify, struct lkb_image **out, struct lkb_error *err)
{
    /* Names: the writable index first (it holds this machine's -pull
     * refreshes), then each read-only cache; the first entry that resolves
     * wins. Blobs come from wherever oci_blob_home finds them. */
    *out = NULL;
    struct lkb_error first;
    lkb_error_clear(&first);
    bool found = false;
    for (size_t k = 0; k <= c->n_lower; k++) {
        struct lkb_cache *src = k == 0 ? c : c->lower[k - 1];
        json_t *idx;
        struct lkb_error e;
        if (oci_index_load(src, &idx, &e) < 0) {
            if (k == 0) {
                if (err)
                    *err = e;
                return -1;
            }
            continue; /* a read-only index damaged since it was opened */
        }
        json_t *root = oci_index_find(idx, canonical);
        int rc = root ? resolve_root(c, root, canonical, platform, arch_text, verify, out, &e) : 1;
        json_decref(idx);
        if (rc == 0)
            return 0;
        if (rc < 0 && !found)
            first = e;
        found |= rc < 0;
    }
    if (!found) {
        char pf[100];
        oci_platform_format(platform, pf, sizeof pf);
        return lkb_error_set(err, LKB_ERR_FETCH, "%s (%s): %s is not in the cache", canonical,
                             pf, canonical);
    }
    if (err)
        *err = first;
    return -1;
}

int lkb_oci_image_open(struct lkb_cache *c, const char *ref, const char *arch,
                       struct lkb_image **out, struct lkb_error *err)
{
    *out = NULL;
    struct oci_platform pf;
    if (oci_platform_parse(arch, &pf, err) < 0)
        return -1;
    char *canon;
    if (lkb_oci_ref_canonical(ref, &canon, err) < 0)
        return -1;
    int rc = oci_image_resolve(c, canon, &pf, arch, OCI_VERIFY_SIZE, out, err);
    free(canon);
    return rc;
}

int lkb_oci_layer_open(struct lkb_image *im, size_t i, struct archive **out,
                       struct lkb_error *err)
{
    *out = NULL;
    if (i >= im->n_layers)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "layer index %zu out of range", i);
    struct lkb_layer *L = &im->layers[i];
    if (!L->verified) {
        /* Full hash before use: a blob corrupted on disk since it was
         * pulled is caught here and removed so the next pull refetches it. */
        char got[LKB_DIGEST_MAX];
        uint64_t n;
        if (lkb_digest_file(L->path, got, &n, err) < 0) {
            if (err)
                err->kind = LKB_ERR_FETCH;
            return lkb_error_prefix(err, "%s: layer %s: ", im->ref, L->digest);
        }
        if (strcmp(got, L->digest) != 0 || (L->size >= 0 && n != (uint64_t)L->size)) {
            if (L->read_only)
                return lkb_error_set(err, LKB_ERR_FETCH,
                                     "%s: layer %s in the read-only cache is corrupt (%s; the "
                                     "next build fetches its own copy)",
                                     im->ref, L->digest, L->path);
            unlink(L->path);
            return lkb_error_set(err, LKB_ERR_FETCH,
                                 "%s: cached layer %s is corrupt (removed; pull again)",
                                 im->ref, L->digest);
        }
        L->verified = true;
    }
    struct archive *a = archive_read_new();
    if (!a)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_filename(a, L->path, 1 << 16) != ARCHIVE_OK) {
        lkb_error_set(err, LKB_ERR_BUILD, "%s: layer %s: %s", im->ref, L->digest,
                      archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    *out = a;
    return 0;
}
