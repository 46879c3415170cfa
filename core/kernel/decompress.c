#include "kernel/decompress.h"

#include <stdlib.h>
#include <string.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

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
            if (len == cap) {
                uint8_t *nb = realloc(buf, cap * 2);
                if (!nb) {
                    free(buf);
                    inflateEnd(&zs);
                    return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                }
                buf = nb;
                cap *= 2;
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
 * format with every decompression filter it has. */
static int raw_decompress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                          struct lkb_error *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    size_t cap = in_len * 4 + 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int ok = buf && archive_read_open_memory(a, in, in_len) == ARCHIVE_OK &&
             archive_read_next_header(a, &e) == ARCHIVE_OK && archive_filter_count(a) > 1;
    while (ok) {
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                ok = 0;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        la_ssize_t r = archive_read_data(a, buf + len, cap - len);
        if (r == 0)
            break;
        if (r < 0) {
            ok = 0;
            break;
        }
        len += (size_t)r;
    }
    archive_read_free(a);
    if (!ok || !len) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    (void)err;
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
        if ((plen > 4 && raw_decompress(in + off, (size_t)plen - 4, out, out_len, err) == 0) ||
            raw_decompress(in + off, (size_t)plen, out, out_len, err) == 0)
            return 0;
        return lkb_error_set(err, LKB_ERR_BUILD,
                             "unsupported bzImage payload format at offset %llu (gzip, xz, "
                             "lzma, bzip2, lz4 and zstd can be decompressed)",
                             (unsigned long long)off);
    }
    return lkb_error_set(err, LKB_ERR_BUILD, "no compressed kernel or no supported format found");
}
