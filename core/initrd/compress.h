/* The initrd's compressors, per segment: a whole segment in memory
 * (libdeflate for gzip, liblz4 in the kernel's legacy framing, libarchive's
 * zstd filter), or streamed to a file for a segment too large to hold
 * (one file of LKB_INITRD_STREAM_MIN bytes or more). Either way one
 * segment becomes one self-contained compressed stream (a gzip member, a
 * zstd frame, an lz4 legacy stream) that the kernel's initramfs unpacker
 * takes one after another. */
#ifndef LKB_INITRD_COMPRESS_H
#define LKB_INITRD_COMPRESS_H

#include <stddef.h>

#include "initrd/initrd.h"
#include "util/error.h"

/* gzip level of the archives: libdeflate's 5 still compresses the 1-4 MiB
 * archives smaller than zlib -6 does the whole cpio as one stream (the
 * size target of issue 13: bench/build.sh prints both; 30.06 vs 30.14 MB
 * on its big image, 4.22 vs 4.25 MB on the small one) for 15% less CPU
 * than libdeflate's 6. Files streamed through zlib (pgzip) keep zlib's 6. */
#define LKB_INITRD_GZIP_LEVEL 5
#define LKB_INITRD_ZLIB_LEVEL 6

/* Compress len bytes of in. *out is malloc'd (for LKB_INITRD_NONE, a copy
 * is not made: *out is NULL and the caller uses in). */
int lkb_initrd_compress(enum lkb_initrd_compression comp, const void *in, size_t len,
                        unsigned char **out, size_t *out_len, struct lkb_error *err);

struct lkb_initrd_stream;
/* A compressed stream appended to fd; close ends it (and frees s, also on
 * error). */
struct lkb_initrd_stream *lkb_initrd_stream_open(int fd, enum lkb_initrd_compression comp,
                                                 struct lkb_error *err);
int lkb_initrd_stream_write(struct lkb_initrd_stream *s, const void *data, size_t len,
                            struct lkb_error *err);
int lkb_initrd_stream_close(struct lkb_initrd_stream *s, struct lkb_error *err);

#endif
