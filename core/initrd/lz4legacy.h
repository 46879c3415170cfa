/* LZ4 "legacy" framing, the only LZ4 format the kernel's initramfs
 * unpacker (lib/decompress_unlz4.c) accepts. libarchive writes only the
 * modern frame format, so this small writer sits on liblz4 directly. */
#ifndef LKB_INITRD_LZ4LEGACY_H
#define LKB_INITRD_LZ4LEGACY_H

#include <stddef.h>

#include "util/error.h"

struct lkb_lz4legacy;

struct lkb_lz4legacy *lkb_lz4legacy_new(int fd);
/* Buffer data; full 8 MiB blocks are compressed and written. */
int lkb_lz4legacy_write(struct lkb_lz4legacy *z, const void *data, size_t len,
                        struct lkb_error *err);
/* Write the last block and free z (also on error). */
int lkb_lz4legacy_finish(struct lkb_lz4legacy *z, struct lkb_error *err);

/* A whole legacy stream of len bytes in memory; *out is malloc'd. */
int lkb_lz4legacy_compress(const void *in, size_t len, unsigned char **out, size_t *out_len,
                           struct lkb_error *err);

#endif
