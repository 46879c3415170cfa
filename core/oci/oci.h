/* OCI distribution client and verified, content-addressed image cache.
 *
 * The cache is an OCI image layout directory (docs/cache.md):
 *   oci-layout, index.json, blobs/sha256/<hex>, ingest/ (temporary files),
 *   .lock (flock: index.json updates), .gclock (flock: pulls vs. clean).
 * index.json lists one root descriptor per pulled reference, annotated with
 * org.opencontainers.image.ref.name = the canonical reference (yaml.md §13).
 *
 * Every blob enters the cache as ingest temp file -> fsync -> digest and
 * size verified -> rename, so a partial or wrong download is never visible.
 * Only the requested platform's manifest, config and layers are fetched
 * (and, with lkb_pull_opts.attestations, its attestation manifest's).
 *
 * All functions return 0 on success and -1 on error with err filled
 * (LKB_ERR_FETCH for registry/network/cache problems), unless documented
 * otherwise. Nothing here prints except the TTY progress line. */
#ifndef LKB_OCI_OCI_H
#define LKB_OCI_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct archive;

/* ---- References (yaml.md §13) ------------------------------------------ */

/* A parsed image reference. All strings are malloc'd. */
struct lkb_oci_ref {
    char *canonical;  /* cache key: "docker.io/library/alpine:3.19", no implicit tag */
    char *registry;   /* host[:port] contacted: docker.io -> "registry-1.docker.io" */
    char *repository; /* "library/alpine" */
    char *tag;        /* NULL when none was given (pulling then uses "latest") */
    char *digest;     /* "sha256:<hex>" or NULL; wins over the tag when pulling */
    bool loopback;    /* localhost / 127.0.0.0/8 / [::1]: plain http allowed */
};

/* Expand and parse TEXT. Rejects "://", upper-case repository names, bad
 * tags and malformed or non-sha256 digests. *out must be freed with
 * lkb_oci_ref_free. */
int lkb_oci_ref_parse(const char *text, struct lkb_oci_ref *out, struct lkb_error *err);
void lkb_oci_ref_free(struct lkb_oci_ref *ref);

/* Only the canonical form (the cache key) of TEXT; *out is malloc'd. */
int lkb_oci_ref_canonical(const char *text, char **out, struct lkb_error *err);

/* The tag or digest used when talking to the registry ("latest" if none). */
const char *lkb_oci_ref_object(const struct lkb_oci_ref *ref);

/* ---- Registry settings ------------------------------------------------- */

/* Process-wide, like LinuxKit's global -mirror and -cert-file flags
 * (build-and-outputs.md §1.2, §15.4; docs/cache.md "Mirrors").
 *
 * A mirror: "REGISTRY=URL" or "URL" (every registry); URL is http:// or
 * https://, host[:port] and an optional repository prefix. "docker.io"
 * also covers index.docker.io and registry-1.docker.io. A later spec for
 * the same registry replaces the earlier one. Bad specs are usage errors. */
int lkb_oci_mirror_add(const char *spec, struct lkb_error *err);
/* LINUXKIT_MIRROR (space- or comma-separated specs); entries never replace
 * ones added by lkb_oci_mirror_add, so flags win. Also read on first use. */
int lkb_oci_mirrors_load_env(struct lkb_error *err);
void lkb_oci_mirrors_reset(void);

/* Add the CA certificates of a PEM file for registry TLS (system roots stay
 * trusted). Fails (usage) when the file holds no certificate. */
int lkb_oci_cert_file_add(const char *path, struct lkb_error *err);
void lkb_oci_cert_files_reset(void);

/* ---- Cache ------------------------------------------------------------ */

struct lkb_cache;

/* Default cache directory: $LKB_CACHE, else $XDG_CACHE_HOME/lkb, else
 * $HOME/.cache/lkb. *out is malloc'd. */
int lkb_cache_default_dir(char **out, struct lkb_error *err);

/* Open (creating if needed) the cache in DIR; NULL means the default. The
 * read-only caches (lkb_cache_ro_add, $LKB_CACHE_PATH) are layered under it. */
struct lkb_cache *lkb_cache_open(const char *dir, struct lkb_error *err);
void lkb_cache_close(struct lkb_cache *cache);
const char *lkb_cache_dir(const struct lkb_cache *cache);

/* Read-only caches layered under a writable one (docs/cache.md "Shared
 * caches"): process-wide list from -cache-ro, attached by lkb_cache_open
 * together with $LKB_CACHE_PATH (colon-separated). Blobs are looked up in
 * them first; names in the writable index first, then in them; nothing is
 * ever written, locked or deleted in them. */
int lkb_cache_ro_add(const char *dir, struct lkb_error *err);
void lkb_cache_ro_reset(void);
/* Layer the existing cache in DIR (read-only) under C. */
int lkb_cache_add_read_only(struct lkb_cache *c, const char *dir, struct lkb_error *err);

/* Path of the blob with DIGEST: in the read-only cache that holds it, else
 * in this cache (whether or not it exists); *out is malloc'd. */
int lkb_cache_blob_path(const struct lkb_cache *cache, const char *digest, char **out,
                        struct lkb_error *err);

/* Hash the cached blob and compare with DIGEST (and SIZE when >= 0), unless
 * it was hashed before and its stat stamp shows it unchanged since
 * (util/stamp.h; writable caches only). A corrupt blob is deleted so the
 * next pull fetches it again. */
int lkb_cache_blob_verify(struct lkb_cache *cache, const char *digest, int64_t size,
                          struct lkb_error *err);

/* One index.json entry. */
struct lkb_cache_entry {
    char *ref;        /* canonical reference */
    char *digest;     /* root manifest or index digest */
    char *media_type; /* root media type */
    int64_t size;
    char *platform; /* "linux/arm64" for single-manifest roots, NULL for indexes */
};

/* Every entry of index.json in file order. */
int lkb_cache_list(struct lkb_cache *cache, struct lkb_cache_entry **out, size_t *n,
                   struct lkb_error *err);
void lkb_cache_entries_free(struct lkb_cache_entry *entries, size_t n);

/* Forget REF (any spelling; it is canonicalised). Its blobs stay until
 * lkb_cache_gc. Error if REF is not in the cache. */
int lkb_cache_remove(struct lkb_cache *cache, const char *ref, struct lkb_error *err);

/* Delete blobs no index.json entry reaches, and stale ingest files; with
 * ALL, delete every blob and empty index.json. Waits for running pulls.
 * freed_* may be NULL. */
int lkb_cache_gc(struct lkb_cache *cache, bool all, size_t *freed_blobs, uint64_t *freed_bytes,
                 struct lkb_error *err);

/* Rehash every blob and delete those whose content does not match their
 * digest (bit flips, truncations, empty files); repair a damaged
 * index.json (moved aside, replaced by an empty index, with a warning).
 * lkb_cache_gc repairs the index the same way. */
int lkb_cache_verify(struct lkb_cache *cache, size_t *checked, size_t *removed,
                     struct lkb_error *err);

/* Import an OCI image layout archive (oci-layout + index.json + blobs/) or
 * a `docker save` tar (manifest.json). Every blob is verified. Images are
 * recorded under their org.opencontainers.image.ref.name /
 * io.containerd.image.name annotation or RepoTags. If refs is non-NULL it
 * receives the malloc'd canonical names (free each, then the array). */
int lkb_cache_import(struct lkb_cache *cache, const char *tar_path, char ***refs, size_t *n_refs,
                     struct lkb_error *err);

/* Write REF as an OCI image layout tar: oci-layout, index.json naming REF,
 * and every blob the root reaches that is in the cache (platforms that were
 * never pulled are left out of an index's blobs). */
int lkb_cache_export(struct lkb_cache *cache, const char *ref, const char *tar_path,
                     struct lkb_error *err);
/* Several images in one archive (an entry per reference in index.json). The
 * read-only caches are searched too, so a runner can export what it uses. */
int lkb_cache_export_many(struct lkb_cache *cache, const char *const *refs, size_t n_refs,
                          const char *tar_path, struct lkb_error *err);

/* ---- Images ----------------------------------------------------------- */

struct lkb_layer {
    char *digest;
    char *media_type; /* gzip, zstd or plain tar; libarchive detects which */
    int64_t size;
    char *path;    /* blob file in the cache */
    bool verified; /* hashed during this process; lkb_oci_layer_open skips re-hashing */
    bool read_only; /* path is in a read-only cache: never removed */
};

/* An image for one platform, resolved from the cache. */
struct lkb_image {
    char *ref;  /* canonical reference */
    char *arch; /* requested platform, e.g. "arm64" */
    char *root_digest;     /* what index.json records: an index or a manifest */
    char *manifest_digest; /* the platform's image manifest */
    char *manifest_media_type;
    json_t *manifest;
    char *config_digest;
    json_t *config; /* the whole config blob; image settings are under "config" */
    struct lkb_layer *layers; /* bottom layer first */
    size_t n_layers;
    /* The buildkit attestation manifest the root index lists for this
     * platform manifest (spec §9.2), or NULL; it may not be cached. */
    char *attestation_digest;
    int64_t attestation_size;
};
void lkb_image_free(struct lkb_image *image);

struct lkb_pull_opts {
    bool force;          /* -pull: always ask the registry for the manifest */
    bool offline;        /* cache only (also when LKB_OFFLINE=1); fail naming what is missing */
    bool verbose;        /* log progress lines even when stderr is not a TTY */
    bool no_progress;    /* never draw the TTY progress line */
    int parallel;        /* concurrent blob downloads; 0 = 4 */
    int max_attempts;    /* per request, incl. the first; 0 = 4 */
    int retry_base_ms;   /* first back-off delay, doubled each retry; 0 = 500 */
    long timeout_s;      /* abort a transfer that moves no data for this long; 0 =
                            $LKB_FETCH_TIMEOUT, else 30 */
    long deadline_s;     /* abort any one request (each blob attempt) after this long, however
                            slowly it moves; 0 = $LKB_FETCH_DEADLINE, else 300 s plus 1 s per
                            100 KiB of the blob */
    const char *ca_file; /* extra CA bundle for registry TLS (also $LKB_CA_FILE) */
    bool attestations;   /* also each image's SBOM attestation: its attestation manifest
                            and SPDX statements, fetched and verified like layers */
    /* When set, called in the pulling thread with each layer blob as soon
     * as it is downloaded and verified, open read-only at fd, which the
     * callee owns (and must close): a build unpacks layers while the
     * other blobs still download. */
    void (*on_layer)(void *ctx, const char *digest, int fd);
    void *on_layer_ctx;
};

/* Make REF for ARCH ("arm64", "arm64/v8", "linux/arm/v7") available in the
 * cache and return it. Without force, a cached image whose blobs all
 * verify is used without contacting the registry; a missing, truncated or
 * corrupt blob is fetched again. opts may be NULL. */
int lkb_oci_pull(struct lkb_cache *cache, const char *ref, const char *arch,
                 const struct lkb_pull_opts *opts, struct lkb_image **out,
                 struct lkb_error *err);

/* Several images at once: manifests are resolved one by one, then all
 * missing blobs are downloaded concurrently through one curl multi handle.
 * On success each req->image is set; on error none is. */
struct lkb_pull_request {
    const char *ref;
    const char *arch;
    struct lkb_image *image; /* out */
};
int lkb_oci_pull_many(struct lkb_cache *cache, struct lkb_pull_request *reqs, size_t n,
                      const struct lkb_pull_opts *opts, struct lkb_error *err);

/* Resolve REF+ARCH from the cache only (spec §15.2): manifest, config and
 * the ordered layer list. Blob sizes are checked; hashes are checked when
 * blobs are read (config and manifest here, layers in lkb_oci_layer_open). */
int lkb_oci_image_open(struct lkb_cache *cache, const char *ref, const char *arch,
                       struct lkb_image **out, struct lkb_error *err);

/* A libarchive reader over layer I of IMAGE (decompression auto-detected),
 * after checking the blob's sha256. Free with archive_read_free. */
int lkb_oci_layer_open(struct lkb_image *image, size_t i, struct archive **out,
                       struct lkb_error *err);

/* One in-toto statement whose predicate is an SPDX document. */
struct lkb_oci_statement {
    char *digest;
    char *data; /* the statement's bytes, sha256-verified */
    size_t len;
};

/* The SBOM statements attached to IMAGE (spec §9.2): the layers of its
 * attestation manifest with media type application/vnd.in-toto+json and
 * predicate type https://spdx.dev/Document, in manifest order, read from
 * the cache (pulled with lkb_pull_opts.attestations). 0 with *n = 0 when
 * the image has no attestation manifest. Free with lkb_oci_statements_free. */
int lkb_oci_image_sboms(struct lkb_cache *cache, const struct lkb_image *image,
                        struct lkb_oci_statement **out, size_t *n, struct lkb_error *err);
void lkb_oci_statements_free(struct lkb_oci_statement *s, size_t n);

/* Read one file of the flattened image: later layers win, whiteouts and
 * opaque directories honoured, symlinks and hard links followed inside the
 * image. Returns 0 with *data (malloc'd, NUL-terminated, not counted in
 * *len), 1 if PATH does not exist in the image (err untouched), -1 on error. */
int lkb_oci_image_read_file(struct lkb_cache *cache, const char *ref, const char *arch,
                            const char *path, void **data, size_t *len, struct lkb_error *err);

/* Same, for an image already resolved. */
int lkb_image_read_file(struct lkb_image *image, const char *path, void **data, size_t *len,
                        struct lkb_error *err);

#endif
