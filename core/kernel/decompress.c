#include "kernel/decompress.h"

#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

/* A kernel is tens of MiB and compresses 3-5x: an output beyond 32x its
 * input (at least 64 MiB, at most 1 GiB) is a decompression bomb, refused
 * before it takes the memory (issue 15: a 1 MB gzip took 2 GB). */
#define KERNEL_MAX_RATIO 32
#define KERNEL_MIN_LIMIT ((size_t)64 << 20)
#define KERNEL_MAX_SIZE ((size_t)1 << 30)

static size_t out_limit(size_t in_len)
{
    size_t l = in_len > KERNEL_MAX_SIZE / KERNEL_MAX_RATIO ? KERNEL_MAX_SIZE
                                                           : in_len * KERNEL_MAX_RATIO;
    return l < KERNEL_MIN_LIMIT ? KERNEL_MIN_LIMIT : l;
}

/* Double buf up to limit: 0, -1 out of memory, -2 over the limit. */
static int grow(uint8_t **buf, size_t *cap, size_t limit)
{
    if (*cap >= limit)
        return -2;
    size_t nc = *cap * 2 > limit ? limit : *cap * 2;
    uint8_t *nb = realloc(*buf, nc);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = nc;
    return 0;
}

static int too_big(struct lkb_error *err, size_t in_len)
{
    return lkb_error_set(err, LKB_ERR_BUILD,
                         "kernel decompresses to more than %zu MiB from %zu bytes: refused as a "
                         "decompression bomb (limit: %dx the compressed size, %zu MiB to %zu MiB)",
                         out_limit(in_len) >> 20, in_len, KERNEL_MAX_RATIO,
                         KERNEL_MIN_LIMIT >> 20, KERNEL_MAX_SIZE >> 20);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int lkb_kernel_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                      struct lkb_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 16+MAX_WBITS: gzip wrapper only. */
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "inflateInit failed");
    size_t cap = in_len * 4 + 4096, len = 0;
    if (cap > out_limit(in_len))
        cap = out_limit(in_len);
    uint8_t *buf = malloc(cap);
    if (!buf) {
        inflateEnd(&zs);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    const uint8_t *p = in;
    size_t left = in_len;
    int rc = Z_OK;
    while (left > 0) {
        zs.next_in = (Bytef *)p;
        zs.avail_in = left > UINT32_MAX ? UINT32_MAX : (uInt)left;
        do {
            int g = len == cap ? grow(&buf, &cap, out_limit(in_len)) : 0;
            if (g < 0) {
                free(buf);
                inflateEnd(&zs);
                return g == -2 ? too_big(err, in_len)
                               : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            }
            zs.next_out = buf + len;
            zs.avail_out = (uInt)((cap - len) > UINT32_MAX ? UINT32_MAX : (cap - len));
            size_t before = zs.avail_out;
            rc = inflate(&zs, Z_NO_FLUSH);
            len += before - zs.avail_out;
        } while (rc == Z_OK && zs.avail_in > 0);
        size_t consumed = (size_t)(zs.next_in - p);
        p += consumed;
        left -= consumed;
        if (rc == Z_STREAM_END) {
            /* Further gzip members follow only if the next bytes are gzip
             * magic; trailing padding (common in bzImage payloads) ends it. */
            if (left >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            break;
        if (zs.avail_in == 0 && left == 0)
            break;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return lkb_error_set(err, LKB_ERR_BUILD, "kernel gzip data is corrupt or truncated (%s)",
                             zs.msg ? zs.msg : "unexpected end of data");
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Payloads other than gzip (Debian's kernels use xz): libarchive's "raw"
 * format with every decompression filter it has. Returns 0, -1 when no
 * filter recognises the data, -2 over the size limit (err set), -3 when a
 * filter recognised it but the data is corrupt or truncated (err set). */
static int raw_decompress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                          struct lkb_error *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    size_t cap = in_len * 4 + 4096, len = 0;
    if (cap > out_limit(in_len))
        cap = out_limit(in_len);
    uint8_t *buf = malloc(cap);
    int rc = buf && archive_read_open_memory(a, in, in_len) == ARCHIVE_OK &&
                     archive_read_next_header(a, &e) == ARCHIVE_OK && archive_filter_count(a) > 1
                 ? 0
                 : -1;
    while (rc == 0) {
        int g = len == cap ? grow(&buf, &cap, out_limit(in_len)) : 0;
        if (g < 0) {
            rc = g == -2 ? -2 : -1;
            break;
        }
        la_ssize_t r = archive_read_data(a, buf + len, cap - len);
        if (r == 0)
            break;
        if (r < 0) {
            /* The filter knew the format: the data itself is bad. */
            const char *why = archive_error_string(a);
            lkb_error_set(err, LKB_ERR_BUILD, "kernel %s data is corrupt or truncated (%s)",
                          archive_filter_name(a, 0), why ? why : "read error");
            rc = -3;
            break;
        }
        len += (size_t)r;
    }
    archive_read_free(a);
    if (rc == 0 && !len)
        rc = -1;
    if (rc < 0) {
        free(buf);
        if (rc == -2)
            too_big(err, in_len);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int lkb_kernel_decompress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                          struct lkb_error *err)
{
    if (in_len >= 2 && in[0] == 0x1f && in[1] == 0x8b)
        return lkb_kernel_gunzip(in, in_len, out, out_len, err);
    /* x86 boot protocol: 0xAA55 at 0x1FE, "HdrS" at 0x202; setup_sects at
     * 0x1F1, payload_offset/length at 0x248/0x24C (relative to the
     * protected-mode code that starts after the setup sectors). */
    if (in_len > 0x250 && in[0x1fe] == 0x55 && in[0x1ff] == 0xaa &&
        memcmp(in + 0x202, "HdrS", 4) == 0) {
        uint16_t version = (uint16_t)(in[0x206] | in[0x207] << 8);
        if (version < 0x0208)
            return lkb_error_set(err, LKB_ERR_BUILD,
                                 "bzImage boot protocol %u.%02u is too old (need 2.08 for "
                                 "payload_offset)",
                                 version >> 8, version & 0xff);
        uint64_t setup = ((uint64_t)in[0x1f1] + 1) * 512;
        uint64_t off = le32(in + 0x248) + setup;
        uint64_t plen = le32(in + 0x24c);
        if (off + plen > in_len || plen < 2)
            return lkb_error_set(err, LKB_ERR_BUILD,
                                 "bzImage payload (offset %llu, length %llu) lies outside the "
                                 "%zu-byte kernel",
                                 (unsigned long long)off, (unsigned long long)plen, in_len);
        if (in[off] == 0x1f && in[off + 1] == 0x8b)
            return lkb_kernel_gunzip(in + off, (size_t)plen, out, out_len, err);
        /* The kernel build appends the uncompressed size (4 bytes) after
         * the compressed stream; decoders want the stream alone. */
        int r = plen > 4 ? raw_decompress(in + off, (size_t)plen - 4, out, out_len, err) : -1;
        if (r == -1 || r == -3) {
            /* Without the size the stream may still be whole (no size
             * appended); keep the first error if this try fails too. */
            struct lkb_error first;
            if (err)
                first = *err;
            int r2 = raw_decompress(in + off, (size_t)plen, out, out_len, err);
            if (r == -3 && (r2 == -1 || r2 == -3)) {
                if (err)
                    *err = first;
            } else {
                r = r2;
            }
        }
        if (r != -1)
            return r < 0 ? -1 : 0; /* -2, -3: err is set */
        return lkb_error_set(err, LKB_ERR_BUILD,
                             "unsupported bzImage payload format at offset %llu (gzip, xz, "
                             "lzma, bzip2, lz4 and zstd can be decompressed)",
                             (unsigned long long)off);
    }
    return lkb_error_set(err, LKB_ERR_BUILD, "no compressed kernel or no supported format found");
}
