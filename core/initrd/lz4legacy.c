#include "initrd/lz4legacy.h"

#include <errno.h>
#include <lz4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20) /* the kernel reads 8 MiB blocks */

struct lkb_lz4legacy {
    int fd;
    int wrote_magic;
    size_t fill;
    char *in;
    char *out;
};

struct lkb_lz4legacy *lkb_lz4legacy_new(int fd)
{
    struct lkb_lz4legacy *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    z->fd = fd;
    z->in = malloc(LZ4_LEGACY_BLOCK);
    z->out = malloc(4 + (size_t)LZ4_compressBound(LZ4_LEGACY_BLOCK));
    if (!z->in || !z->out) {
        free(z->in);
        free(z->out);
        free(z);
        return NULL;
    }
    return z;
}

static void le32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

/* One block: its compressed size, then the data; returns the bytes
 * written to out (LZ4_compressBound(n) + 4 available), 0 on failure.
 * The fast compressor: lz4 is chosen for speed (HC was 4x slower for ~10%
 * smaller output on the benchmark image). */
static size_t block(const void *in, size_t n, unsigned char *out)
{
    int z = LZ4_compress_default(in, (char *)out + 4, (int)n, LZ4_compressBound((int)n));
    if (z <= 0)
        return 0;
    le32(out, (uint32_t)z);
    return 4 + (size_t)z;
}

int lkb_lz4legacy_compress(const void *in, size_t len, unsigned char **out, size_t *out_len,
                           struct lkb_error *err)
{
    size_t blocks = len / LZ4_LEGACY_BLOCK + 1;
    unsigned char *o = malloc(4 + blocks * (4 + (size_t)LZ4_compressBound(LZ4_LEGACY_BLOCK)));
    if (!o)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory (lz4 segment)");
    le32(o, LZ4_LEGACY_MAGIC);
    size_t n = 4;
    for (size_t off = 0; off < len; off += LZ4_LEGACY_BLOCK) {
        size_t b = len - off < LZ4_LEGACY_BLOCK ? len - off : LZ4_LEGACY_BLOCK;
        size_t w = block((const char *)in + off, b, o + n);
        if (!w) {
            free(o);
            return lkb_error_set(err, LKB_ERR_BUILD, "lz4 compression failed");
        }
        n += w;
    }
    *out = o;
    *out_len = n;
    return 0;
}

static int flush_block(struct lkb_lz4legacy *z, struct lkb_error *err)
{
    unsigned char hdr[4];
    if (!z->wrote_magic) {
        le32(hdr, LZ4_LEGACY_MAGIC);
        if (lkb_fs_write_all(z->fd, hdr, 4, "the lz4 initrd", err) < 0)
            return -1;
        z->wrote_magic = 1;
    }
    if (!z->fill)
        return 0;
    size_t n = block(z->in, z->fill, (unsigned char *)z->out);
    if (!n)
        return lkb_error_set(err, LKB_ERR_BUILD, "lz4 compression failed");
    z->fill = 0;
    return lkb_fs_write_all(z->fd, z->out, n, "the lz4 initrd", err);
}

int lkb_lz4legacy_write(struct lkb_lz4legacy *z, const void *data, size_t len,
                        struct lkb_error *err)
{
    const char *p = data;
    while (len) {
        size_t n = LZ4_LEGACY_BLOCK - z->fill;
        if (n > len)
            n = len;
        memcpy(z->in + z->fill, p, n);
        z->fill += n;
        p += n;
        len -= n;
        if (z->fill == LZ4_LEGACY_BLOCK && flush_block(z, err) < 0)
            return -1;
    }
    return 0;
}

int lkb_lz4legacy_finish(struct lkb_lz4legacy *z, struct lkb_error *err)
{
    int rc = flush_block(z, err);
    free(z->in);
    free(z->out);
    free(z);
    return rc;
}
