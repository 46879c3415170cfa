#include "initrd/pgzip.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/fs.h"

#define BLOCK (1u << 20)
#define DICT (32u << 10)
#define MAX_THREADS 8

struct block {
    unsigned char *in, *out;
    size_t in_len, out_len, out_cap;
    const unsigned char *dict; /* previous block's tail, or NULL */
    size_t dict_len;
    int last;
    uLong crc;
    int failed;
    int level;
};

struct lkb_pgzip {
    int fd, threads, level;
    struct block blocks[MAX_THREADS];
    int n; /* blocks filled in this batch */
    unsigned char dict[DICT];
    size_t dict_len;
    uLong crc;
    uint64_t total;
    int wrote_header;
};

struct lkb_pgzip *lkb_pgzip_new(int fd, int threads, int level)
{
    struct lkb_pgzip *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    z->threads = threads > MAX_THREADS ? MAX_THREADS : threads;
    z->fd = fd;
    z->level = level;
    z->crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < z->threads; i++) {
        struct block *b = &z->blocks[i];
        b->in = malloc(BLOCK + DICT);
        b->out_cap = deflateBound(NULL, BLOCK) + 64;
        b->out = malloc(b->out_cap);
        if (!b->in || !b->out) {
            for (int j = 0; j <= i; j++) {
                free(z->blocks[j].in);
                free(z->blocks[j].out);
            }
            free(z);
            return NULL;
        }
    }
    return z;
}

static void *compress_block(void *arg)
{
    struct block *b = arg;
    z_stream s;
    memset(&s, 0, sizeof s);
    b->crc = crc32(crc32(0L, Z_NULL, 0), b->in + DICT, (uInt)b->in_len);
    if (deflateInit2(&s, b->level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        b->failed = 1;
        return NULL;
    }
    if (b->dict_len)
        deflateSetDictionary(&s, b->in + DICT - b->dict_len, (uInt)b->dict_len);
    s.next_in = b->in + DICT;
    s.avail_in = (uInt)b->in_len;
    s.next_out = b->out;
    s.avail_out = (uInt)b->out_cap;
    int rc = deflate(&s, b->last ? Z_FINISH : Z_SYNC_FLUSH);
    b->failed = b->last ? rc != Z_STREAM_END : (rc != Z_OK || s.avail_in != 0);
    b->out_len = b->out_cap - s.avail_out;
    deflateEnd(&s);
    return NULL;
}

/* Compress the filled blocks in parallel, write them in order. */
static int flush_batch(struct lkb_pgzip *z, int last, struct lkb_error *err)
{
    if (!z->wrote_header) {
        /* gzip header: deflate, no name, mtime 0, OS "unknown". */
        static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
        if (lkb_fs_write_all(z->fd, hdr, sizeof hdr, "the gzip initrd", err) < 0)
            return -1;
        z->wrote_header = 1;
    }
    if (last && z->n == 0) {
        /* Nothing buffered: an empty final block ends the stream. */
        z->blocks[0].in_len = 0;
        z->blocks[0].dict_len = 0;
        z->n = 1;
    }
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 0; i < z->n; i++) {
        struct block *b = &z->blocks[i];
        b->level = z->level;
        b->last = last && i == z->n - 1;
        b->failed = 0;
        if (i + 1 < z->n && pthread_create(&tids[i], NULL, compress_block, b) == 0)
            started[i] = 1;
        else
            compress_block(b); /* the last one on this thread */
    }
    int rc = 0;
    for (int i = 0; i < z->n; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        struct block *b = &z->blocks[i];
        if (b->failed && rc == 0)
            rc = lkb_error_set(err, LKB_ERR_BUILD, "gzip compression failed");
        if (rc == 0)
            rc = lkb_fs_write_all(z->fd, b->out, b->out_len, "the gzip initrd", err);
        z->crc = crc32_combine(z->crc, b->crc, (z_off_t)b->in_len);
    }
    z->n = 0;
    return rc;
}

int lkb_pgzip_write(struct lkb_pgzip *z, const void *data, size_t len, struct lkb_error *err)
{
    const unsigned char *p = data;
    z->total += len;
    while (len) {
        struct block *b;
        if (z->n == 0 || z->blocks[z->n - 1].in_len == BLOCK) {
            if (z->n == z->threads && flush_batch(z, 0, err) < 0)
                return -1;
            b = &z->blocks[z->n++];
            b->in_len = 0;
            /* Prime with the tail of everything before this block. */
            b->dict_len = z->dict_len;
            memcpy(b->in + DICT - z->dict_len, z->dict + DICT - z->dict_len, z->dict_len);
        } else {
            b = &z->blocks[z->n - 1];
        }
        size_t n = BLOCK - b->in_len;
        if (n > len)
            n = len;
        memcpy(b->in + DICT + b->in_len, p, n);
        b->in_len += n;
        p += n;
        len -= n;
        if (b->in_len == BLOCK) {
            /* The next block's dictionary: this block's last 32 KiB. */
            memcpy(z->dict, b->in + DICT + BLOCK - DICT, DICT);
            z->dict_len = DICT;
        }
    }
    return 0;
}

int lkb_pgzip_finish(struct lkb_pgzip *z, struct lkb_error *err)
{
    int rc = flush_batch(z, 1, err);
    if (rc == 0) {
        unsigned char tr[8];
        for (int i = 0; i < 4; i++) {
            tr[i] = (unsigned char)(z->crc >> (8 * i));
            tr[4 + i] = (unsigned char)(z->total >> (8 * i));
        }
        rc = lkb_fs_write_all(z->fd, tr, sizeof tr, "the gzip initrd", err);
    }
    for (int i = 0; i < z->threads; i++) {
        free(z->blocks[i].in);
        free(z->blocks[i].out);
    }
    free(z);
    return rc;
}
