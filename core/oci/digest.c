#include "oci/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int lkb_sha256_init(struct lkb_sha256 *h, struct lkb_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        h->ctx = NULL;
        return lkb_error_set(err, LKB_ERR_INTERNAL, "cannot initialise sha256");
    }
    h->ctx = ctx;
    return 0;
}

void lkb_sha256_update(struct lkb_sha256 *h, const void *data, size_t len)
{
    if (h->ctx && len)
        EVP_DigestUpdate(h->ctx, data, len);
}

void lkb_sha256_final(struct lkb_sha256 *h, char out[LKB_DIGEST_MAX])
{
    unsigned char md[32];
    unsigned int n = 0;
    out[0] = '\0';
    if (!h->ctx)
        return;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[71] = '\0';
}

void lkb_sha256_discard(struct lkb_sha256 *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int lkb_digest_bytes(const void *data, size_t len, char out[LKB_DIGEST_MAX],
                     struct lkb_error *err)
{
    struct lkb_sha256 h;
    if (lkb_sha256_init(&h, err) < 0)
        return -1;
    lkb_sha256_update(&h, data, len);
    lkb_sha256_final(&h, out);
    return 0;
}

int lkb_digest_file(const char *path, char out[LKB_DIGEST_MAX], uint64_t *size,
                    struct lkb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", path);
    struct lkb_sha256 h;
    if (lkb_sha256_init(&h, err) < 0) {
        close(fd);
        return -1;
    }
    unsigned char buf[1 << 16];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            lkb_sha256_discard(&h);
            close(fd);
            return lkb_error_errno(err, LKB_ERR_IO, e, "reading %s", path);
        }
        if (n == 0)
            break;
        lkb_sha256_update(&h, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    lkb_sha256_final(&h, out);
    if (size)
        *size = total;
    return 0;
}

bool lkb_digest_valid(const char *digest)
{
    if (!digest || strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
        return false;
    for (const char *p = digest + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}
