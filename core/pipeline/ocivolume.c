#include "pipeline/ocivolume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/str.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

static int read_blob(struct lkb_cache *c, const char *digest, char **data, size_t *len,
                     struct lkb_error *err)
{
    char *path;
    if (lkb_cache_blob_path(c, digest, &path, err) < 0)
        return -1;
    int rc = lkb_fs_read_file(path, data, len, err);
    free(path);
    return rc;
}

static int add_blob(struct lkb_tree *root, struct lkb_cache *c, const char *prefix,
                    const char *digest, struct lkb_error *err)
{
    char *data;
    size_t len;
    if (read_blob(c, digest, &data, &len, err) < 0)
        return -1;
    char path[1024];
    int rc = lkb_strf_buf(path, sizeof path, err, "%s/blobs/sha256/%s", prefix,
                          strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest);
    if (rc == 0)
        rc = lkb_tree_add_file(root, path, data, len, 0644, 0, 0, 0, err);
    free(data);
    return rc;
}

/* "os/arch[/variant]" matches a descriptor's platform. */
static int platform_matches(const json_t *plat, const char *want)
{
    char os[64] = "", arch[64] = "", variant[64] = "";
    if (sscanf(want, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2)
        return 0;
    const char *pos = json_string_value(json_object_get(plat, "os"));
    const char *parch = json_string_value(json_object_get(plat, "architecture"));
    const char *pvar = json_string_value(json_object_get(plat, "variant"));
    return pos && parch && !strcmp(pos, os) && !strcmp(parch, arch) &&
           (!*variant || (pvar && !strcmp(pvar, variant)));
}

/* The registry client's normalised name: docker.io -> index.docker.io,
 * implicit :latest. */
static char *ref_name(const char *image, struct lkb_error *err)
{
    struct lkb_oci_ref r;
    if (lkb_oci_ref_parse(image, &r, err) < 0)
        return NULL;
    const char *reg = strcmp(r.registry, "registry-1.docker.io") == 0 ? "index.docker.io"
                                                                       : r.registry;
    size_t n = strlen(reg) + strlen(r.repository) + 80 + (r.digest ? strlen(r.digest) : 0);
    char *s = malloc(n);
    if (s) {
        if (r.digest && !r.tag)
            snprintf(s, n, "%s/%s@%s", reg, r.repository, r.digest);
        else
            snprintf(s, n, "%s/%s:%s", reg, r.repository, r.tag ? r.tag : "latest");
    }
    lkb_oci_ref_free(&r);
    return s;
}

/* The image index of a volume's image (fetched for the build's platform
 * in the fetch phase): its raw bytes and parsed form. */
static int read_index(struct lkb_image_store *s, const char *image, struct lkb_image **img,
                      char **raw, size_t *rawlen, json_t **index, struct lkb_error *err)
{
    *raw = NULL;
    *index = NULL;
    if (lkb_image_store_get(s, image, NULL, img, err) < 0 ||
        read_blob(s->cache, (*img)->root_digest, raw, rawlen, err) < 0)
        return -1;
    if (!(*index = json_loadb(*raw, *rawlen, 0, NULL)))
        return lkb_error_set(err, LKB_ERR_BUILD, "volume image %s: unreadable root", image);
    const char *mt = json_string_value(json_object_get(*index, "mediaType"));
    if (!json_is_array(json_object_get(*index, "manifests")) ||
        (mt && strcmp(mt, OCI_INDEX) && strcmp(mt, DOCKER_LIST)))
        return lkb_error_set(err, LKB_ERR_BUILD, "no image index found for %s", image);
    return 0;
}

/* 1 when index entry m is a manifest of a platform the volume wants;
 * spec gets "os/arch[/variant]" to pull it. */
static int wanted_platform(const json_t *m, const json_t *plats, char *spec, size_t size)
{
    const char *mmt = json_string_value(json_object_get(m, "mediaType"));
    const json_t *plat = json_object_get(m, "platform");
    /* Attestation manifests (platform unknown/unknown) are not platforms. */
    const char *rt = json_string_value(
        json_object_get(json_object_get(m, "annotations"), "vnd.docker.reference.type"));
    if (!mmt || (strcmp(mmt, OCI_MANIFEST) && strcmp(mmt, DOCKER_MANIFEST)) || !plat ||
        (rt && strcmp(rt, "attestation-manifest") == 0))
        return 0;
    int want = json_array_size(plats) == 0;
    size_t k;
    json_t *w;
    json_array_foreach(plats, k, w) want |= platform_matches(plat, json_string_value(w));
    const char *os = json_string_value(json_object_get(plat, "os"));
    const char *arch = json_string_value(json_object_get(plat, "architecture"));
    const char *var = json_string_value(json_object_get(plat, "variant"));
    int n = snprintf(spec, size, "%s/%s%s%s", os ? os : "", arch ? arch : "", var ? "/" : "",
                     var ? var : "");
    return want && os && arch && n > 0 && (size_t)n < size;
}

int lkb_oci_volume_want(struct lkb_image_store *s, const json_t *volume, struct lkb_error *err)
{
    const char *image = json_string_value(json_object_get(volume, "image"));
    struct lkb_image *img;
    char *raw;
    size_t rawlen;
    json_t *index;
    int rc = read_index(s, image, &img, &raw, &rawlen, &index, err);
    size_t i;
    json_t *m;
    char spec[200];
    json_array_foreach(json_object_get(index, "manifests"), i, m)
    {
        if (rc == 0 && wanted_platform(m, json_object_get(volume, "platforms"), spec, sizeof spec))
            rc = lkb_image_store_want(s, image, spec, err);
    }
    free(raw);
    json_decref(index);
    return rc;
}

int lkb_build_oci_volume(struct lkb_tree *root, struct lkb_image_store *ctx,
                         const json_t *volume, const char *prefix, struct lkb_error *err)
{
    const char *image = json_string_value(json_object_get(volume, "image"));
    const json_t *plats = json_object_get(volume, "platforms");
    struct lkb_image *img = NULL;
    char *raw = NULL, *name = NULL;
    size_t rawlen = 0;
    json_t *index = NULL;
    int rc = read_index(ctx, image, &img, &raw, &rawlen, &index, err);
    static const char layout[] = "{\n\t\t\"imageLayoutVersion\": \"1.0.0\"\n\t}";
    char p[1024];
    if (rc == 0)
        rc = lkb_strf_buf(p, sizeof p, err, "%s/oci-layout", prefix);
    if (rc == 0)
        rc = lkb_tree_add_file(root, p, layout, sizeof layout - 1, 0644, 0, 0, 0, err);
    if (rc == 0)
        rc = lkb_strf_buf(p, sizeof p, err, "%s/blobs", prefix);
    if (rc == 0)
        rc = lkb_tree_add_dir(root, p, 0755, 0, 0, 0, err);
    if (rc == 0)
        rc = lkb_strf_buf(p, sizeof p, err, "%s/blobs/sha256", prefix);
    if (rc == 0)
        rc = lkb_tree_add_dir(root, p, 0755, 0, 0, 0, err);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(index, "manifests"), i, m)
    {
        char spec[200];
        if (rc < 0)
            break;
        if (!wanted_platform(m, plats, spec, sizeof spec))
            continue;
        /* Fetched in the fetch phase (lkb_oci_volume_want). */
        struct lkb_image *pimg = NULL;
        if ((rc = lkb_image_store_get(ctx, image, spec, &pimg, err)) < 0)
            break;
        rc = add_blob(root, ctx->cache, prefix, pimg->config_digest, err);
        for (size_t l = 0; rc == 0 && l < pimg->n_layers; l++)
            rc = add_blob(root, ctx->cache, prefix, pimg->layers[l].digest, err);
        if (rc == 0)
            rc = add_blob(root, ctx->cache, prefix, pimg->manifest_digest, err);
    }
    if (rc == 0)
        rc = add_blob(root, ctx->cache, prefix, img->root_digest, err);
    if (rc == 0 && !(name = ref_name(image, err)))
        rc = -1;
    if (rc == 0) {
        json_t *doc = json_pack("{s:i,s:s,s:[{s:s,s:I,s:s,s:{s:s}}]}", "schemaVersion", 2,
                                "mediaType", OCI_INDEX, "manifests", "mediaType", OCI_INDEX,
                                "size", (json_int_t)rawlen, "digest", img->root_digest,
                                "annotations", "org.opencontainers.image.ref.name", name);
        char *s = doc ? json_dumps(doc, JSON_INDENT(3) | JSON_PRESERVE_ORDER) : NULL;
        rc = lkb_strf_buf(p, sizeof p, err, "%s/index.json", prefix);
        rc = rc < 0 ? rc : s ? lkb_tree_add_file(root, p, s, strlen(s), 0644, 0, 0, 0, err)
               : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(s);
        json_decref(doc);
    }
    free(name);
    free(raw);
    json_decref(index);
    return rc;
}
