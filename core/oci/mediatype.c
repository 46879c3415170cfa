/* Manifest media types and manifest structure checks. */
#include <string.h>

#include "oci/internal.h"

bool oci_mt_is_manifest(const char *mt)
{
    return mt && (strcmp(mt, OCI_MT_OCI_MANIFEST) == 0 || strcmp(mt, OCI_MT_DOCKER_MANIFEST) == 0);
}

bool oci_mt_is_index(const char *mt)
{
    return mt && (strcmp(mt, OCI_MT_OCI_INDEX) == 0 || strcmp(mt, OCI_MT_DOCKER_LIST) == 0);
}

const char *oci_manifest_media_type(const char *declared, json_t *body)
{
    if (oci_mt_is_manifest(declared) || oci_mt_is_index(declared))
        return declared;
    const char *mt = oci_json_str(body, "mediaType");
    if (oci_mt_is_manifest(mt) || oci_mt_is_index(mt))
        return mt;
    if (mt)
        return mt; /* unknown: callers reject it by name */
    /* OCI allows mediaType to be omitted; tell the two apart by shape. */
    if (json_is_array(json_object_get(body, "manifests")))
        return OCI_MT_OCI_INDEX;
    if (json_is_array(json_object_get(body, "layers")))
        return OCI_MT_OCI_MANIFEST;
    return declared ? declared : "unknown";
}

static bool valid_descriptor(json_t *d)
{
    return json_is_object(d) && lkb_digest_valid(oci_json_str(d, "digest")) &&
           oci_json_int(d, "size", -1) >= 0;
}

int oci_manifest_parse(json_t *manifest, json_t **config, json_t **layers, struct lkb_error *err)
{
    *config = json_object_get(manifest, "config");
    *layers = json_object_get(manifest, "layers");
    if (oci_json_int(manifest, "schemaVersion", 0) != 2)
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "unsupported manifest schemaVersion (Docker schema 1 images are "
                             "not supported)");
    if (!valid_descriptor(*config) || !json_is_array(*layers))
        return lkb_error_set(err, LKB_ERR_FETCH, "malformed image manifest: bad config or layers");
    size_t i;
    json_t *l;
    json_array_foreach(*layers, i, l)
    {
        if (!valid_descriptor(l))
            return lkb_error_set(err, LKB_ERR_FETCH,
                                 "malformed image manifest: layer %zu has no valid sha256 "
                                 "digest and size",
                                 i);
    }
    return 0;
}
