/* Parallel, verified blob downloads into the cache (libcurl multi). */
#ifndef LKB_OCI_BLOBFETCH_H
#define LKB_OCI_BLOBFETCH_H

#include "oci/registry.h"

struct oci_blob_job {
    struct oci_source *src; /* mirror, then origin */
    const char *digest;
    int64_t size;
    const char *image; /* canonical reference, for messages */
    size_t progress_slot;
    bool layer; /* a layer of the image (for lkb_pull_opts.on_layer) */
};

/* Download every job (at most c->parallel at a time) into the cache. Each
 * blob is hashed while streaming and only renamed into blobs/ when its size
 * and digest match. 5xx, 408/429, timeouts, dropped connections, short or
 * long bodies and digest mismatches are retried with exponential back-off
 * up to c->max_attempts; the error names the image and the digest. A blob
 * a mirror cannot serve (after those retries, or wrong bytes) is fetched
 * from the origin, with a warning. Verified blobs go into batch, which
 * the caller commits. */
int oci_fetch_blobs(struct oci_client *c, struct lkb_cache *cache, struct oci_ingest_batch *batch,
                    struct oci_blob_job *jobs,
                    size_t n, struct oci_progress *progress, struct lkb_error *err);

#endif
