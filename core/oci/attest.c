/* Buildkit attestations (build-and-outputs.md §9.2): the attestation
 * manifest an image index lists next to a platform manifest, and its
 * in-toto statements with an SPDX predicate, read from the cache. */
#include <stdlib.h>
#include <string.h>

#include "oci/internal.h"

#define ANNOT_REF_TYPE "vnd.docker.reference.type"
#define ANNOT_REF_DIGEST "vnd.docker.reference.digest"
#define ANNOT_PREDICATE "in-toto.io/predicate-type"
#define MT_INTOTO "application/vnd.in-toto+json"
#define PREDICATE_SPDX "https://spdx.dev/Document"
/* Statements are read whole (jansson): a registry may not make lkb download
 * and hold an arbitrary amount. Real SBOMs of large images are a few MiB. */
#define STATEMENT_MAX ((int64_t)64 << 20)

json_t *oci_attestation_find(json_t *index, const char *manifest_digest)
{
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(index, "manifests"), i, d)
    {
        json_t *a = json_object_get(d, "annotations");
        const char *type = oci_json_str(a, ANNOT_REF_TYPE), *ref = oci_json_str(a, ANNOT_REF_DIGEST);
        if (type && ref && strcmp(type, "attestation-manifest") == 0 &&
            strcmp(ref, manifest_digest) == 0)
            return d;
    }
    return NULL;
}

bool oci_attestation_is_sbom(json_t *layer)
{
    const char *mt = oci_json_str(layer, "mediaType");
    const char *pt = oci_json_str(json_object_get(layer, "annotations"), ANNOT_PREDICATE);
    return mt && pt && strcmp(mt, MT_INTOTO) == 0 && strcmp(pt, PREDICATE_SPDX) == 0;
}

int oci_attestation_parse(const char *data, size_t len, const char *digest, json_t **out,
                          struct lkb_error *err)
{
    json_error_t je;
    json_t *m = json_loadb(data, len, 0, &je);
    *out = NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return lkb_error_set(err, LKB_ERR_FETCH, "attestation manifest %s is not a JSON object%s%s",
                             digest, m ? "" : ": ", m ? "" : je.text);
    }
    json_t *layers = json_object_get(m, "layers"), *l;
    size_t i;
    if (!json_is_array(layers)) {
        json_decref(m);
        return lkb_error_set(err, LKB_ERR_FETCH, "attestation manifest %s has no layers array",
                             digest);
    }
    json_array_foreach(layers, i, l)
    {
        if (oci_attestation_is_sbom(l) &&
            (!lkb_digest_valid(oci_json_str(l, "digest")) || oci_json_int(l, "size", -1) < 0)) {
            json_decref(m);
            return lkb_error_set(err, LKB_ERR_FETCH,
                                 "attestation manifest %s: SBOM layer %zu has no valid digest "
                                 "and size",
                                 digest, i);
        }
        if (oci_attestation_is_sbom(l) && oci_json_int(l, "size", -1) > STATEMENT_MAX) {
            lkb_error_set(err, LKB_ERR_FETCH,
                          "attestation manifest %s: SBOM statement %s of %lld bytes is over the "
                          "limit of %lld",
                          digest, oci_json_str(l, "digest"),
                          (long long)oci_json_int(l, "size", -1), (long long)STATEMENT_MAX);
            json_decref(m);
            return -1;
        }
    }
    *out = m;
    return 0;
}

/* The attestation manifest of IM from the cache, parsed; *out NULL when IM
 * has none. */
static int read_attestation(struct lkb_cache *c, const struct lkb_image *im, json_t **out,
                            struct lkb_error *err)
{
    *out = NULL;
    if (!im->attestation_digest)
        return 0;
    if (!lkb_digest_valid(im->attestation_digest))
        return lkb_error_set(err, LKB_ERR_FETCH, "attestation manifest with a malformed digest '%s'",
                             im->attestation_digest);
    char *data;
    size_t len;
    if (oci_blob_read(c, im->attestation_digest, im->attestation_size, &data, &len, err) < 0)
        return -1;
    int rc = oci_attestation_parse(data, len, im->attestation_digest, out, err);
    free(data);
    return rc;
}

int oci_attestation_cached(struct lkb_cache *c, const struct lkb_image *im, struct lkb_error *err)
{
    json_t *m;
    if (read_attestation(c, im, &m, err) < 0)
        return -1;
    /* All of it, as pull fetches it (export and gc expect complete
     * manifests), not only the SBOM statements. */
    json_t *cfg = NULL, *layers = NULL, *l;
    size_t i;
    int rc = m ? oci_manifest_parse(m, &cfg, &layers, err) : 0;
    if (m && rc == 0)
        rc = lkb_cache_blob_verify(c, oci_json_str(cfg, "digest"), oci_json_int(cfg, "size", -1),
                                   err);
    json_array_foreach(layers, i, l)
    {
        if (rc == 0)
            rc = lkb_cache_blob_verify(c, oci_json_str(l, "digest"), oci_json_int(l, "size", -1),
                                       err);
    }
    json_decref(m);
    return rc;
}

void lkb_oci_statements_free(struct lkb_oci_statement *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].digest);
        free(s[i].data);
    }
    free(s);
}

int lkb_oci_image_sboms(struct lkb_cache *c, const struct lkb_image *im,
                        struct lkb_oci_statement **out, size_t *n, struct lkb_error *err)
{
    *out = NULL;
    *n = 0;
    json_t *m;
    if (read_attestation(c, im, &m, err) < 0)
        return lkb_error_prefix(err, "%s: ", im->ref);
    json_t *l;
    size_t i;
    int rc = 0;
    json_array_foreach(json_object_get(m, "layers"), i, l)
    {
        if (rc < 0 || !oci_attestation_is_sbom(l))
            continue;
        struct lkb_oci_statement *s = realloc(*out, (*n + 1) * sizeof *s);
        if (!s) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        *out = s;
        s = &s[*n];
        memset(s, 0, sizeof *s);
        const char *digest = oci_json_str(l, "digest");
        if (!(s->digest = strdup(digest))) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        (*n)++;
        rc = oci_blob_read(c, digest, oci_json_int(l, "size", -1), &s->data, &s->len, err);
        if (rc < 0)
            lkb_error_prefix(err, "%s: attestation %s: ", im->ref, im->attestation_digest);
    }
    json_decref(m);
    if (rc < 0) {
        lkb_oci_statements_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
