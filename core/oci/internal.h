/* Declarations shared by the files of core/oci; not part of the API. */
#ifndef LKB_OCI_INTERNAL_H
#define LKB_OCI_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "oci/digest.h"
#include "oci/oci.h"
#include "util/error.h"
#include "util/str.h"

#define OCI_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define OCI_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define OCI_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANNOT_CONTAINERD_NAME "io.containerd.image.name"

bool oci_mt_is_manifest(const char *mt);
bool oci_mt_is_index(const char *mt);
/* Media type of a manifest body: the Content-Type / descriptor value if it
 * is a known one, else the body's mediaType, else guessed from its keys. */
const char *oci_manifest_media_type(const char *declared, json_t *body);

/* ---- platforms (platform.c) ---- */
struct oci_platform {
    char os[32], arch[32], variant[32]; /* variant "" = any */
};
/* "arm64", "arm64/v8", "linux/arm/v7". */
int oci_platform_parse(const char *text, struct oci_platform *out, struct lkb_error *err);
/* Does an index entry's "platform" object match? Missing platform: no. */
bool oci_platform_match(const struct oci_platform *want, json_t *platform);
/* First image-manifest entry of an index for WANT, or NULL. */
json_t *oci_index_select(json_t *index, const struct oci_platform *want);
void oci_platform_format(const struct oci_platform *p, char *buf, size_t size);

/* ---- string lists (strlist.c) ---- */
struct oci_strlist {
    char **v;
    size_t n;
};
int oci_strlist_add(struct oci_strlist *l, const char *s, struct lkb_error *err);
bool oci_strlist_has(const struct oci_strlist *l, const char *s);
void oci_strlist_clear(struct oci_strlist *l);

/* ---- cache internals (cache.c, cache_index.c) ---- */
struct lkb_cache {
    char *dir;
    char *blobs;  /* <dir>/blobs/sha256 */
    char *ingest; /* <dir>/ingest */
    int gc_fd;    /* .gclock, shared while pulling, exclusive while cleaning */
    bool read_only;            /* a shared lower cache: never written nor locked */
    struct lkb_cache **lower;  /* read-only caches, searched first for blobs */
    size_t n_lower;
    struct oci_strlist bad; /* (read-only) blobs found corrupt in this process: skipped */
};

/* ---- read-only layers (cache_layers.c) ---- */
/* Attach the -cache-ro directories and LKB_CACHE_PATH to C. */
int oci_cache_attach_read_only(struct lkb_cache *c, struct lkb_error *err);
/* The cache holding DIGEST with SIZE (any when < 0): the first read-only
 * one that has it and has not found it corrupt, else C itself, else NULL. */
struct lkb_cache *oci_blob_home(struct lkb_cache *c, const char *digest, int64_t size);
/* Read-only cache R holds a corrupt DIGEST: warn once, skip it from now on. */
void oci_cache_mark_bad(struct lkb_cache *r, const char *digest, const char *why);

/* Size of the cached blob or -1 if absent. */
int64_t oci_blob_size(const struct lkb_cache *cache, const char *digest);
/* Present with the expected size (any size when size < 0). */
bool oci_blob_present(const struct lkb_cache *cache, const char *digest, int64_t size);
/* Read a whole cached blob, checking size (when >= 0) and digest. */
int oci_blob_read(struct lkb_cache *cache, const char *digest, int64_t size, char **data,
                  size_t *len, struct lkb_error *err);
/* lkb_cache_blob_verify, also telling which cache's copy verified (*home,
 * when home is not NULL). */
int oci_blob_verify_home(struct lkb_cache *c, const char *digest, int64_t size,
                         struct lkb_cache **home, struct lkb_error *err);
/* Path of DIGEST in the cache directory of C alone (not its read-only
 * lower caches). */
int oci_blob_own_path(const struct lkb_cache *c, const char *digest, char **out,
                      struct lkb_error *err);
/* Record that the blob at path was hashed just now (core/util/stamp.c). */
void oci_blob_stamp(const struct lkb_cache *c, const char *digest, const char *path);

struct oci_ingest_batch;
/* Store bytes already in memory as blob DIGEST (verified first), through
 * batch b when not NULL. */
int oci_blob_put(struct lkb_cache *cache, const char *digest, const void *data, size_t len,
                 struct oci_ingest_batch *b, struct lkb_error *err);

/* A blob being written: temp file in ingest/, hashed as it is written. */
struct oci_ingest {
    int fd;
    char *tmp_path;
    struct lkb_sha256 hash;
    uint64_t written;
    char digest[LKB_DIGEST_MAX]; /* set by a successful commit */
};
int oci_ingest_open(struct lkb_cache *cache, struct oci_ingest *in, struct lkb_error *err);
int oci_ingest_write(struct oci_ingest *in, const void *data, size_t len, struct lkb_error *err);
/* Check size (when >= 0) and digest (when not NULL: else the blob is
 * stored under whatever it hashes to, see in->digest), fsync, rename into
 * blobs/. On any failure the temp file is removed. */
int oci_ingest_commit(struct lkb_cache *cache, struct oci_ingest *in, const char *digest,
                      int64_t size, struct lkb_error *err);
void oci_ingest_abort(struct oci_ingest *in);

/* Verified blobs waiting to be stored together (core/oci/ingest.c): a
 * pull's blobs cost one directory fsync, and their writeback overlaps the
 * downloads. Zero-initialise; commit or abort it. */
struct oci_ingest_batch {
    struct oci_ingest *v;
    size_t n, cap;
};
/* Check like oci_ingest_commit, then hand the temp file to b (NULL: commit
 * at once); a full batch is committed here. in->digest is set. */
int oci_ingest_finish(struct lkb_cache *cache, struct oci_ingest *in, const char *digest,
                      int64_t size, struct oci_ingest_batch *b, struct lkb_error *err);
/* fsync, rename and stamp every blob of b, then sync blobs/ once; b is
 * empty afterwards (on failure the rest is removed). */
int oci_ingest_batch_commit(struct lkb_cache *cache, struct oci_ingest_batch *b,
                            struct lkb_error *err);
void oci_ingest_batch_abort(struct oci_ingest_batch *b);

/* Exclusive flock on <dir>/.lock for index.json read-modify-write. */
int oci_cache_lock(struct lkb_cache *cache, int *fd, struct lkb_error *err);
void oci_cache_unlock(int fd);
/* Shared (pull) or exclusive (gc) lock on .gclock, held by the cache. */
int oci_cache_gc_lock(struct lkb_cache *cache, bool exclusive, struct lkb_error *err);
void oci_cache_gc_unlock(struct lkb_cache *cache);

int oci_index_load(struct lkb_cache *cache, json_t **out, struct lkb_error *err);
/* oci_index_load, but a damaged index.json is moved to index.json.damaged
 * and replaced by an empty index, with a warning (caller holds .lock). */
int oci_index_load_repair(struct lkb_cache *cache, json_t **out, struct lkb_error *err);
int oci_index_save(struct lkb_cache *cache, json_t *index, struct lkb_error *err);
/* A new descriptor object (platform may be NULL; it is not stolen). */
json_t *oci_descriptor(const char *media_type, int64_t size, const char *digest,
                       const char *ref_name, json_t *platform);
/* Under the index lock: drop every entry named like each descriptor's
 * ref-name annotation, then append the descriptors in order. */
int oci_index_record(struct lkb_cache *cache, json_t *const *descs, size_t n,
                     struct lkb_error *err);
/* Root descriptor for CANONICAL (spec §15.2 preference), borrowed from
 * INDEX, or NULL. */
json_t *oci_index_find(json_t *index, const char *canonical);

/* ---- resolution from the cache (image.c) ---- */
enum oci_verify { OCI_VERIFY_SIZE, OCI_VERIFY_FULL };
/* Resolve CANONICAL for PLATFORM; every blob checked per VERIFY (manifests
 * and config are always hashed since they are read). */
int oci_image_resolve(struct lkb_cache *cache, const char *canonical,
                      const struct oci_platform *platform, const char *arch_text,
                      enum oci_verify verify, struct lkb_image **out, struct lkb_error *err);
/* Config descriptor and layer descriptors of a manifest, checked. */
int oci_manifest_parse(json_t *manifest, json_t **config, json_t **layers, struct lkb_error *err);

/* ---- attestations (attest.c) ---- */
/* The attestation-manifest descriptor INDEX lists for MANIFEST_DIGEST
 * (borrowed), or NULL. */
json_t *oci_attestation_find(json_t *index, const char *manifest_digest);
/* Is a layer descriptor of an attestation manifest an SPDX statement? */
bool oci_attestation_is_sbom(json_t *layer);
/* Parse attestation manifest bytes; a malformed one is an error naming
 * DIGEST. */
int oci_attestation_parse(const char *data, size_t len, const char *digest, json_t **out,
                          struct lkb_error *err);
/* Is IM's attestation manifest cached and complete (config, layers)? */
int oci_attestation_cached(struct lkb_cache *c, const struct lkb_image *im,
                           struct lkb_error *err);

/* ---- progress line (progress.c) ---- */
struct oci_progress;
struct oci_progress *oci_progress_new(const struct lkb_pull_opts *opts);
/* Register an image; returns its slot. */
size_t oci_progress_add(struct oci_progress *p, const char *name);
void oci_progress_expect(struct oci_progress *p, size_t slot, uint64_t bytes);
void oci_progress_advance(struct oci_progress *p, size_t slot, int64_t bytes);
void oci_progress_draw(struct oci_progress *p, bool force);
void oci_progress_done(struct oci_progress *p, size_t slot, bool cached);
void oci_progress_free(struct oci_progress *p);

/* ---- small helpers ---- */
const char *oci_json_str(json_t *obj, const char *key);
int64_t oci_json_int(json_t *obj, const char *key, int64_t dflt);

#endif
