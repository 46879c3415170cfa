/* An image's SBOM attestations: the in-toto statements of its attestation
 * manifest, each carrying an SPDX document as its predicate. */
#include <stdio.h>
#include <stdlib.h>

#include "sbom/sbom.h"

int lkb_sbom_add_statement(struct lkb_sbom *s, const char *bytes, size_t len, const char *ref,
                           const char *digest, const char *prefix, struct lkb_error *err)
{
    char what[400];
    snprintf(what, sizeof what, "%s: SBOM attestation %s", ref, digest);
    json_error_t je;
    json_t *st = json_loadb(bytes, len, 0, &je);
    int rc;
    if (!st)
        rc = lkb_error_set(err, LKB_ERR_BUILD, "%s: not JSON: %s (line %d)", what, je.text,
                           je.line);
    else if (!json_is_object(st) || !json_is_object(json_object_get(st, "predicate")))
        rc = lkb_error_set(err, LKB_ERR_BUILD,
                           "%s: not an in-toto statement with an SPDX document as predicate",
                           what);
    else
        rc = lkb_sbom_add_document(s, json_object_get(st, "predicate"), prefix, what, err);
    json_decref(st);
    return rc;
}

int lkb_sbom_add_image(struct lkb_sbom *s, struct lkb_cache *cache,
                       const struct lkb_image *image, const char *prefix,
                       struct lkb_error *err)
{
    struct lkb_oci_statement *st;
    size_t n;
    if (lkb_oci_image_sboms(cache, image, &st, &n, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = lkb_sbom_add_statement(s, st[i].data, st[i].len, image->ref, st[i].digest, prefix,
                                    err);
    lkb_oci_statements_free(st, n);
    return rc;
}
