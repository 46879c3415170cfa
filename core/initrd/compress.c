#include "initrd/compress.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "initrd/lz4legacy.h"
#include "initrd/pgzip.h"
#include "util/fs.h"

static int gzip_mem(const void *in, size_t len, unsigned char **out, size_t *out_len,
                    struct lkb_error *err)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(LKB_INITRD_GZIP_LEVEL);
    if (!c)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory (gzip compressor)");
    size_t cap = libdeflate_gzip_compress_bound(c, len);
    *out = malloc(cap);
    *out_len = *out ? libdeflate_gzip_compress(c, in, len, *out, cap) : 0;
    libdeflate_free_compressor(c);
    if (!*out_len) {
        free(*out);
        *out = NULL;
        return lkb_error_set(err, LKB_ERR_INTERNAL, "gzip compression failed (out of memory?)");
    }
    return 0;
}

/* zstd through libarchive's filter (its "raw" format: the bytes as they
 * are), so lkb needs no second zstd binding. */
struct membuf {
    unsigned char *p;
    size_t len, cap;
};

static la_ssize_t membuf_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->cap - m->len < len) {
        size_t cap = m->cap ? m->cap : 1u << 16;
        while (cap - m->len < len)
            cap *= 2;
        unsigned char *p = realloc(m->p, cap);
        if (!p) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return (la_ssize_t)len;
}

static struct archive *zstd_new(void)
{
    struct archive *a = archive_write_new();
    if (!a)
        return NULL;
    if (archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_set_format_raw(a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
        archive_write_free(a);
        return NULL;
    }
    return a;
}

static int zstd_header(struct archive *a)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -1;
    archive_entry_set_pathname(e, "initrd");
    archive_entry_set_filetype(e, AE_IFREG);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free(e);
    return rc;
}

static int zstd_mem(const void *in, size_t len, unsigned char **out, size_t *out_len,
                    struct lkb_error *err)
{
    struct membuf m = {0};
    struct archive *a = zstd_new();
    int rc = a && archive_write_open2(a, &m, NULL, membuf_cb, NULL, NULL) == ARCHIVE_OK &&
                     zstd_header(a) == 0 &&
                     (len == 0 || archive_write_data(a, in, len) == (la_ssize_t)len) &&
                     archive_write_close(a) == ARCHIVE_OK
                 ? 0
                 : lkb_error_set(err, LKB_ERR_BUILD, "zstd compression failed: %s",
                                 a && archive_error_string(a) ? archive_error_string(a)
                                                              : "out of memory");
    if (a)
        archive_write_free(a);
    if (rc < 0) {
        free(m.p);
        return -1;
    }
    *out = m.p;
    *out_len = m.len;
    return 0;
}

int lkb_initrd_compress(enum lkb_initrd_compression comp, const void *in, size_t len,
                        unsigned char **out, size_t *out_len, struct lkb_error *err)
{
    *out = NULL;
    *out_len = 0;
    switch (comp) {
    case LKB_INITRD_GZIP:
        return gzip_mem(in, len, out, out_len, err);
    case LKB_INITRD_LZ4:
        return lkb_lz4legacy_compress(in, len, out, out_len, err);
    case LKB_INITRD_ZSTD:
        return zstd_mem(in, len, out, out_len, err);
    case LKB_INITRD_NONE:
        *out_len = len;
        return 0;
    }
    return lkb_error_set(err, LKB_ERR_INTERNAL, "unknown initrd compression");
}

struct lkb_initrd_stream {
    int fd;
    enum lkb_initrd_compression comp;
    struct lkb_pgzip *gz;
    struct lkb_lz4legacy *lz4;
    struct archive *zstd;
};

struct lkb_initrd_stream *lkb_initrd_stream_open(int fd, enum lkb_initrd_compression comp,
                                                 struct lkb_error *err)
{
    struct lkb_initrd_stream *s = calloc(1, sizeof *s);
    if (!s) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    s->fd = fd;
    s->comp = comp;
    int ok = 1;
    if (comp == LKB_INITRD_GZIP)
        ok = (s->gz = lkb_pgzip_new(fd, 0, LKB_INITRD_ZLIB_LEVEL)) != NULL;
    else if (comp == LKB_INITRD_LZ4)
        ok = (s->lz4 = lkb_lz4legacy_new(fd)) != NULL;
    else if (comp == LKB_INITRD_ZSTD)
        ok = (s->zstd = zstd_new()) && archive_write_open_fd(s->zstd, fd) == ARCHIVE_OK &&
             zstd_header(s->zstd) == 0;
    if (!ok) {
        lkb_error_set(err, LKB_ERR_BUILD, "cannot start the compressor");
        if (s->zstd)
            archive_write_free(s->zstd);
        free(s);
        return NULL;
    }
    return s;
}

int lkb_initrd_stream_write(struct lkb_initrd_stream *s, const void *data, size_t len,
                            struct lkb_error *err)
{
    if (s->gz)
        return lkb_pgzip_write(s->gz, data, len, err);
    if (s->lz4)
        return lkb_lz4legacy_write(s->lz4, data, len, err);
    if (s->zstd) {
        /* archive_write_data() takes at most INT_MAX bytes a call. */
        const unsigned char *p = data;
        while (len) {
            size_t n = len < (1u << 30) ? len : (1u << 30);
            la_ssize_t w = archive_write_data(s->zstd, p, n);
            if (w <= 0)
                return lkb_error_set(err, LKB_ERR_IO, "%s",
                                     archive_error_string(s->zstd) ? archive_error_string(s->zstd)
                                                                   : "write failed");
            p += w;
            len -= (size_t)w;
        }
        return 0;
    }
    return lkb_fs_write_all(s->fd, data, len, "the initrd", err);
}

int lkb_initrd_stream_close(struct lkb_initrd_stream *s, struct lkb_error *err)
{
    int rc = 0;
    if (s->gz)
        rc = lkb_pgzip_finish(s->gz, err);
    if (s->lz4)
        rc = lkb_lz4legacy_finish(s->lz4, err);
    if (s->zstd) {
        if (archive_write_close(s->zstd) != ARCHIVE_OK)
            rc = lkb_error_set(err, LKB_ERR_IO, "%s",
                               archive_error_string(s->zstd) ? archive_error_string(s->zstd)
                                                             : "write failed");
        archive_write_free(s->zstd);
    }
    free(s);
    return rc;
}
