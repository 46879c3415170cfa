/* Pulling: validate the cache, resolve manifests at the registry (only the
 * requested platform of an index), download the missing blobs of every
 * image through one curl multi handle, then store manifests and record
 * the roots in index.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/blobfetch.h"
#include "oci/registry.h"
#include "util/log.h"

static const char manifest_accept[] =
    OCI_MT_OCI_INDEX ", " OCI_MT_DOCKER_LIST ", " OCI_MT_OCI_MANIFEST ", " OCI_MT_DOCKER_MANIFEST;

struct fetched {
    char *body;
    size_t len;
    char digest[LKB_DIGEST_MAX];
    char *media_type;
};

struct item {
    struct lkb_pull_request *req;
    struct lkb_oci_ref ref;
    struct oci_platform pf;
    struct oci_source src; /* mirror, then origin */
    size_t slot;
    bool cached;
    struct fetched root, child; /* child: the platform manifest of an index */
    json_t *manifest;           /* the platform's image manifest */
    struct fetched att;         /* its attestation manifest (opts->attestations), or empty */
    json_t *att_manifest;
};

static void fetched_free(struct fetched *f)
{
    free(f->body);
    free(f->media_type);
    memset(f, 0, sizeof *f);
}

/* A fetched manifest into the cache (nothing when f is empty). */
static int put_fetched(struct lkb_cache *cache, const struct fetched *f,
                       struct oci_ingest_batch *batch, struct lkb_error *err)
{
    return f->body ? oci_blob_put(cache, f->digest, f->body, f->len, batch, err) : 0;
}

static bool env_offline(void)
{
    const char *v = getenv("LKB_OFFLINE");
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0);
}

/* One GET of a manifest by tag or digest, checked against the digest asked
 * for or announced (Docker-Content-Digest) and the size: -2 when the bytes
 * do not match (worth another attempt), -1 for other errors. */
static int get_manifest_once(struct oci_client *c, struct item *it, const char *object,
                             const char *want_digest, int64_t want_size, struct fetched *out,
                             struct lkb_error *err)
{
    struct oci_endpoint *ep = oci_source_endpoint(c, &it->src, &it->src.cur, err);
    if (!ep)
        return -1;
    char *path = lkb_strf("/v2/%s/manifests/%s", ep->repo, object);
    if (!path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    struct oci_response resp = {0};
    int rc = oci_request(c, ep->reg, ep->repo, path, manifest_accept, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = lkb_error_set(err, LKB_ERR_FETCH, "%s (HTTP %ld)",
                           resp.status == 404 ? "manifest unknown" : "registry error",
                           resp.status);
    if (rc == 0)
        rc = lkb_digest_bytes(resp.body ? resp.body : "", resp.len, out->digest, err);
    if (rc == 0 && want_digest && strcmp(want_digest, out->digest) != 0) {
        lkb_error_set(err, LKB_ERR_FETCH, "manifest content hashes to %s, expected %s",
                      out->digest, want_digest);
        rc = -2;
    }
    if (rc == 0 && want_size >= 0 && resp.len != (size_t)want_size) {
        lkb_error_set(err, LKB_ERR_FETCH, "manifest %s is %zu bytes, expected %lld", out->digest,
                      resp.len, (long long)want_size);
        rc = -2;
    }
    if (rc == 0 && !want_digest && resp.docker_digest &&
        strcmp(resp.docker_digest, out->digest) != 0) {
        lkb_error_set(err, LKB_ERR_FETCH,
                      "manifest content hashes to %s but the registry announced %s", out->digest,
                      resp.docker_digest);
        rc = -2;
    }
    if (rc == 0) {
        out->body = resp.body;
        out->len = resp.len;
        out->media_type = resp.content_type;
        resp.body = resp.content_type = NULL;
        if (c->verbose)
            lkb_info("%s: manifest %s from %s%s", it->ref.canonical, out->digest, ep->reg->base,
                     path);
    }
    free(path);
    oci_response_free(&resp);
    return rc;
}

/* A manifest whose bytes do not match (a short or over-long body the
 * transport did not notice, wrong bytes) is fetched again with the blobs'
 * back-off, up to max_attempts (docs/cache.md: digest mismatches are
 * retried); statuses and transport errors are retried in oci_request. */
static int get_manifest(struct oci_client *c, struct item *it, const char *object,
                        const char *want_digest, int64_t want_size, struct fetched *out,
                        struct lkb_error *err)
{
    for (int attempt = 1;; attempt++) {
        int rc = get_manifest_once(c, it, object, want_digest, want_size, out, err);
        if (rc != -2)
            return rc;
        if (attempt >= c->max_attempts)
            return lkb_error_prefix(err, "after %d attempts: ", attempt);
        lkb_debug("%s: %s; retrying", it->ref.canonical, err->msg);
        oci_backoff_sleep(c, attempt);
    }
}

/* get_manifest, moving from a failing mirror to the origin. */
static int get_manifest_any(struct oci_client *c, struct item *it, const char *object,
                            const char *want_digest, int64_t want_size, struct fetched *out,
                            struct lkb_error *err)
{
    char mirror_why[LKB_ERROR_MSG_MAX] = "";
    for (;;) {
        struct lkb_error why;
        lkb_error_clear(&why);
        if (get_manifest(c, it, object, want_digest, want_size, out, &why) == 0)
            return 0;
        char what[300];
        snprintf(what, sizeof what, "manifest %s of %s", object, it->ref.canonical);
        if (it->src.ep[it->src.cur].mirror)
            snprintf(mirror_why, sizeof mirror_why, "%s", why.msg);
        if (!oci_source_fallback(&it->src, &it->src.cur, what, why.msg)) {
            if (mirror_why[0] && it->src.ep[it->src.cur].mirror == NULL)
                return lkb_error_set(err, LKB_ERR_FETCH, "%s (the mirror had failed: %s)",
                                     why.msg, mirror_why);
            *err = why;
            return -1;
        }
    }
}

/* The attestation manifest DESC of the platform manifest: from the cache
 * or the registry (verified like any manifest), then checked. */
static int resolve_attestation(struct oci_client *c, struct lkb_cache *cache, struct item *it,
                               json_t *desc, struct lkb_error *err)
{
    const char *ad = oci_json_str(desc, "digest");
    int64_t asize = oci_json_int(desc, "size", -1);
    if (!lkb_digest_valid(ad))
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "index %s: attestation manifest with a malformed digest",
                             it->root.digest);
    char digest[LKB_DIGEST_MAX];
    snprintf(digest, sizeof digest, "%s", ad);
    struct lkb_error ignore;
    if (oci_blob_read(cache, digest, asize, &it->att.body, &it->att.len, &ignore) < 0 &&
        get_manifest_any(c, it, digest, digest, asize, &it->att, err) < 0)
        return -1;
    snprintf(it->att.digest, sizeof it->att.digest, "%s", digest);
    return oci_attestation_parse(it->att.body, it->att.len, digest, &it->att_manifest, err);
}

static int resolve_remote(struct oci_client *c, struct lkb_cache *cache, struct item *it,
                          bool attestations, struct lkb_error *err)
{
    if (get_manifest_any(c, it, lkb_oci_ref_object(&it->ref), it->ref.digest, -1, &it->root,
                         err) < 0)
        return -1;
    json_t *body = json_loadb(it->root.body, it->root.len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return lkb_error_set(err, LKB_ERR_FETCH, "manifest %s is not a JSON object",
                             it->root.digest);
    }
    const char *mt = oci_manifest_media_type(it->root.media_type, body);
    char *mts = strdup(mt);
    free(it->root.media_type);
    it->root.media_type = mts;
    if (!mts) {
        json_decref(body);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (oci_mt_is_manifest(mts)) {
        it->manifest = body;
        return 0;
    }
    if (!oci_mt_is_index(mts)) {
        json_decref(body);
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "provided image is neither an image nor an index (%s)", mts);
    }
    json_t *d = oci_index_select(body, &it->pf);
    if (!d) {
        char pf[100];
        oci_platform_format(&it->pf, pf, sizeof pf);
        json_decref(body);
        return lkb_error_set(err, LKB_ERR_FETCH, "index %s does not contain target platforms %s",
                             it->ref.canonical, pf);
    }
    const char *cd = oci_json_str(d, "digest");
    int64_t csize = oci_json_int(d, "size", -1);
    if (!lkb_digest_valid(cd)) {
        json_decref(body);
        return lkb_error_set(err, LKB_ERR_FETCH, "index %s: bad digest for the platform entry",
                             it->root.digest);
    }
    snprintf(it->child.digest, sizeof it->child.digest, "%s", cd);
    const char *cmt = oci_json_str(d, "mediaType");
    it->child.media_type = strdup(cmt ? cmt : OCI_MT_OCI_MANIFEST);
    json_t *ad = attestations ? oci_attestation_find(body, it->child.digest) : NULL;
    if (ad && resolve_attestation(c, cache, it, ad, err) < 0) {
        json_decref(body);
        return -1;
    }
    json_decref(body);
    /* The platform manifest may already be cached (verified on read). */
    struct lkb_error ignore;
    if (oci_blob_read(cache, it->child.digest, csize, &it->child.body, &it->child.len, &ignore) <
        0) {
        char digest[LKB_DIGEST_MAX];
        snprintf(digest, sizeof digest, "%s", it->child.digest);
        char *keep_mt = it->child.media_type;
        it->child.media_type = NULL;
        int rc = get_manifest_any(c, it, digest, digest, csize, &it->child, err);
        free(it->child.media_type);
        it->child.media_type = keep_mt;
        if (rc < 0)
            return -1;
    }
    it->manifest = json_loadb(it->child.body, it->child.len, 0, NULL);
    if (!json_is_object(it->manifest))
        return lkb_error_set(err, LKB_ERR_FETCH, "manifest %s is not a JSON object",
                             it->child.digest);
    if (!oci_mt_is_manifest(oci_manifest_media_type(it->child.media_type, it->manifest)))
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "index entry %s for the platform is not an image manifest",
                             it->child.digest);
    return 0;
}

/* Queue blob descriptor D unless it is cached or queued already. */
static int plan_blob(struct lkb_cache *cache, struct item *it, json_t *d, bool layer,
                     struct oci_blob_job **jobs, size_t *n, struct oci_progress *prog,
                     struct lkb_error *err)
{
    const char *digest = oci_json_str(d, "digest");
    int64_t size = oci_json_int(d, "size", -1);
    if (oci_blob_present(cache, digest, size))
        return 0;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*jobs)[i].digest, digest) == 0)
            return 0;
    struct oci_blob_job *nj = realloc(*jobs, (*n + 1) * sizeof *nj);
    if (!nj)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    *jobs = nj;
    nj[*n] = (struct oci_blob_job){.src = &it->src,
                                   .digest = digest,
                                   .size = size,
                                   .image = it->ref.canonical,
                                   .progress_slot = it->slot,
                                   .layer = layer};
    (*n)++;
    oci_progress_expect(prog, it->slot, (uint64_t)size);
    return 0;
}

/* Queue the config and layers of MANIFEST that are not in the cache; one
 * job per digest. */
static int plan_manifest(struct lkb_cache *cache, struct item *it, json_t *manifest,
                         struct oci_blob_job **jobs, size_t *n, struct oci_progress *prog,
                         struct lkb_error *err)
{
    json_t *cfg, *layers, *d;
    if (oci_manifest_parse(manifest, &cfg, &layers, err) < 0 ||
        plan_blob(cache, it, cfg, false, jobs, n, prog, err) < 0)
        return -1;
    size_t k;
    bool layer = manifest == it->manifest; /* not the attestation's statements */
    json_array_foreach(layers, k, d) if (plan_blob(cache, it, d, layer, jobs, n, prog, err) < 0)
        return -1;
    return 0;
}

/* The image's blobs, and its attestation's whole (small) image, so the
 * cache holds it complete, as export and gc expect of a manifest. */
static int plan_blobs(struct lkb_cache *cache, struct item *it, struct oci_blob_job **jobs,
                      size_t *n, struct oci_progress *prog, struct lkb_error *err)
{
    if (plan_manifest(cache, it, it->manifest, jobs, n, prog, err) < 0)
        return -1;
    if (it->att_manifest &&
        plan_manifest(cache, it, it->att_manifest, jobs, n, prog, err) < 0)
        return lkb_error_prefix(err, "attestation manifest %s: ", it->att.digest);
    return 0;
}

/* The descriptor recorded in index.json; a single-manifest root carries
 * the platform named in its config. */
static json_t *root_descriptor(struct lkb_cache *cache, struct item *it)
{
    json_t *platform = NULL;
    if (oci_mt_is_manifest(it->root.media_type)) {
        json_t *cfgd = json_object_get(it->manifest, "config");
        char *data;
        size_t len;
        struct lkb_error ignore;
        if (oci_blob_read(cache, oci_json_str(cfgd, "digest"), oci_json_int(cfgd, "size", -1),
                          &data, &len, &ignore) == 0) {
            json_t *cfg = json_loadb(data, len, 0, NULL);
            free(data);
            const char *os = oci_json_str(cfg, "os"), *arch = oci_json_str(cfg, "architecture");
            if (os && arch) {
                platform = json_object();
                json_object_set_new(platform, "architecture", json_string(arch));
                json_object_set_new(platform, "os", json_string(os));
                const char *v = oci_json_str(cfg, "variant");
                if (v)
                    json_object_set_new(platform, "variant", json_string(v));
            }
            json_decref(cfg);
        }
    }
    json_t *d = oci_descriptor(it->root.media_type, (int64_t)it->root.len, it->root.digest,
                               it->ref.canonical, platform);
    json_decref(platform);
    return d;
}

static void items_free(struct item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lkb_oci_ref_free(&items[i].ref);
        oci_source_free(&items[i].src);
        fetched_free(&items[i].root);
        fetched_free(&items[i].child);
        fetched_free(&items[i].att);
        json_decref(items[i].manifest);
        json_decref(items[i].att_manifest);
    }
    free(items);
}

int lkb_oci_pull_many(struct lkb_cache *cache, struct lkb_pull_request *reqs, size_t n,
                      const struct lkb_pull_opts *opts, struct lkb_error *err)
{
    static const struct lkb_pull_opts defaults;
    if (!opts)
        opts = &defaults;
    bool offline = opts->offline || env_offline();
    for (size_t i = 0; i < n; i++)
        reqs[i].image = NULL;
    struct item *items = calloc(n ? n : 1, sizeof *items);
    if (!items)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    struct oci_client *client = NULL;
    struct oci_progress *prog = oci_progress_new(opts);
    struct oci_blob_job *jobs = NULL;
    struct oci_ingest_batch batch = {0};
    json_t **descs = NULL;
    size_t n_jobs = 0, to_pull = 0;
    bool gc_locked = false;
    int rc = -1;

    /* 1. What the cache already has (fully verified, spec §15.3). */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        it->req = &reqs[i];
        if (lkb_oci_ref_parse(reqs[i].ref, &it->ref, err) < 0 ||
            oci_platform_parse(reqs[i].arch, &it->pf, err) < 0 ||
            oci_source_init(&it->src, &it->ref, err) < 0)
            goto out;
        if (opts->force && !offline)
            continue;
        struct lkb_error why;
        lkb_error_clear(&why);
        if (oci_image_resolve(cache, it->ref.canonical, &it->pf, reqs[i].arch, OCI_VERIFY_FULL,
                              &reqs[i].image, &why) == 0) {
            /* With attestations wanted, a cached image is complete only
             * with its attestation (cached before lkb wrote SBOMs?). */
            if (!opts->attestations || !reqs[i].image->attestation_digest ||
                oci_attestation_cached(cache, reqs[i].image, &why) == 0) {
                it->cached = true;
                continue;
            }
            lkb_error_prefix(&why, "attestation %s: ", reqs[i].image->attestation_digest);
            lkb_image_free(reqs[i].image);
            reqs[i].image = NULL;
        }
        if (offline) {
            lkb_error_set(err, LKB_ERR_FETCH, "offline mode: cannot use %s: %s", reqs[i].ref,
                          why.msg);
            goto out;
        }
        lkb_debug("%s: pulling (%s)", it->ref.canonical, why.msg);
    }
    for (size_t i = 0; i < n; i++)
        to_pull += !items[i].cached;
    if (to_pull == 0) {
        rc = 0;
        goto out;
    }

    /* 2. Manifests, one image at a time (they are small). Hold off
     * `cache clean` until our blobs are referenced by index.json. */
    if (oci_cache_gc_lock(cache, false, err) < 0)
        goto out;
    gc_locked = true;
    if (!(client = oci_client_new(opts, err)))
        goto out;
    double t0 = lkb_now_s();
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (it->cached)
            continue;
        it->slot = oci_progress_add(prog, it->ref.canonical);
        if (resolve_remote(client, cache, it, opts->attestations, err) < 0) {
            lkb_error_prefix(err, "error getting manifest for image %s: ", it->ref.canonical);
            goto out;
        }
        if (plan_blobs(cache, it, &jobs, &n_jobs, prog, err) < 0) {
            lkb_error_prefix(err, "pulling %s: ", it->ref.canonical);
            goto out;
        }
    }

    /* 3. All missing blobs, concurrently. */
    double t1 = lkb_now_s();
    if (oci_fetch_blobs(client, cache, &batch, jobs, n_jobs, prog, err) < 0)
        goto out;
    double t2 = lkb_now_s();

    /* 4. Manifests last, then the index: a root is only recorded once
     * everything it needs for this platform is stored (the batch). */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (!it->cached && (put_fetched(cache, &it->att, &batch, err) < 0 ||
                            put_fetched(cache, &it->child, &batch, err) < 0 ||
                            put_fetched(cache, &it->root, &batch, err) < 0)) {
            lkb_error_prefix(err, "pulling %s: ", it->ref.canonical);
            goto out;
        }
    }
    if (oci_ingest_batch_commit(cache, &batch, err) < 0)
        goto out;
    descs = calloc(to_pull, sizeof *descs);
    if (!descs) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        goto out;
    }
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (!items[i].cached && !(descs[nd++] = root_descriptor(cache, &items[i]))) {
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            goto out;
        }
    if (oci_index_record(cache, descs, nd, err) < 0)
        goto out;
    lkb_debug("pull: %zu manifests %.3f s, %zu blobs %.3f s, stored %.3f s", to_pull, t1 - t0,
              n_jobs, t2 - t1, lkb_now_s() - t2);

    /* 5. Hand out the images, marking what was just hashed on download. */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        if (it->cached)
            continue;
        if (oci_image_resolve(cache, it->ref.canonical, &it->pf, reqs[i].arch, OCI_VERIFY_SIZE,
                              &reqs[i].image, err) < 0)
            goto out;
        for (size_t l = 0; l < reqs[i].image->n_layers; l++)
            for (size_t j = 0; j < n_jobs; j++)
                if (strcmp(jobs[j].digest, reqs[i].image->layers[l].digest) == 0)
                    reqs[i].image->layers[l].verified = true;
        oci_progress_done(prog, it->slot, false);
    }
    rc = 0;
out:
    if (rc < 0)
        for (size_t i = 0; i < n; i++) {
            lkb_image_free(reqs[i].image);
            reqs[i].image = NULL;
        }
    oci_ingest_batch_abort(&batch);
    if (gc_locked)
        oci_cache_gc_unlock(cache);
    for (size_t i = 0; descs && i < to_pull; i++)
        json_decref(descs[i]);
    free(descs);
    free(jobs);
    oci_progress_free(prog);
    oci_client_free(client);
    items_free(items, n);
    return rc;
}

int lkb_oci_pull(struct lkb_cache *cache, const char *ref, const char *arch,
                 const struct lkb_pull_opts *opts, struct lkb_image **out, struct lkb_error *err)
{
    struct lkb_pull_request req = {.ref = ref, .arch = arch, .image = NULL};
    *out = NULL;
    if (lkb_oci_pull_many(cache, &req, 1, opts, err) < 0)
        return -1;
    *out = req.image;
    return 0;
}
