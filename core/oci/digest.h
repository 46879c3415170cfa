/* Streaming sha256 content digests ("sha256:<64 hex>") over OpenSSL EVP. */
#ifndef LKB_OCI_DIGEST_H
#define LKB_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* "sha256:" + 64 hex digits + NUL. */
#define LKB_DIGEST_MAX 72

struct lkb_sha256 {
    void *ctx; /* EVP_MD_CTX, kept opaque so users need no OpenSSL headers */
};

int lkb_sha256_init(struct lkb_sha256 *h, struct lkb_error *err);
void lkb_sha256_update(struct lkb_sha256 *h, const void *data, size_t len);
/* Write "sha256:<hex>" to out and release the context. */
void lkb_sha256_final(struct lkb_sha256 *h, char out[LKB_DIGEST_MAX]);
/* Release without a result (error paths). Safe on a zeroed struct. */
void lkb_sha256_discard(struct lkb_sha256 *h);

int lkb_digest_bytes(const void *data, size_t len, char out[LKB_DIGEST_MAX],
                     struct lkb_error *err);
/* Digest and size of a file. */
int lkb_digest_file(const char *path, char out[LKB_DIGEST_MAX], uint64_t *size,
                    struct lkb_error *err);

/* True for "sha256:" followed by exactly 64 lower-case hex digits, the only
 * algorithm the cache stores. */
bool lkb_digest_valid(const char *digest);

#endif
