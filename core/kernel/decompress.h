/* -decompress-kernel: turn a gzip kernel or an x86 bzImage (gzip, xz,
 * lzma, bzip2, lz4 or zstd payload) into the raw kernel
 * (build-and-outputs.md §4.2). */
#ifndef LKB_KERNEL_DECOMPRESS_H
#define LKB_KERNEL_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Gunzip a complete gzip stream (all members). *out is malloc'd. */
int lkb_kernel_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                      struct lkb_error *err);

/* Decompress a kernel: gzip data is gunzipped; an x86 bzImage has its
 * payload located through the boot-protocol header and decompressed (the
 * size the kernel build appends is skipped); a corrupt or truncated
 * payload and anything else are errors. */
int lkb_kernel_decompress(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                          struct lkb_error *err);

#endif
