/* The initrd: the root tree (minus the kernel's boot files) as a cpio
 * "newc" archive, compressed, with an optional uncompressed microcode cpio
 * in front (build-and-outputs.md §12). */
#ifndef LKB_INITRD_INITRD_H
#define LKB_INITRD_INITRD_H

#include <stddef.h>
#include <stdint.h>

#include "rootfs/tree.h"
#include "util/error.h"

enum lkb_initrd_compression {
    LKB_INITRD_GZIP = 0,
    LKB_INITRD_ZSTD,
    LKB_INITRD_LZ4,
    LKB_INITRD_NONE,
};

/* "gzip" (default when NULL), "zstd", "lz4", "none". */
int lkb_initrd_compression_parse(const char *s, enum lkb_initrd_compression *out,
                                 struct lkb_error *err);

/* Write the initrd to path atomically. Entries boot/kernel, boot/cmdline
 * and boot/ucode.cpio are left out (they are separate outputs); the rest,
 * including kernel.tar's boot/dtb/..., is kept, as LinuxKit does.
 * mtime_clamp >= 0 caps every mtime (SOURCE_DATE_EPOCH). */
int lkb_initrd_write(struct lkb_tree *t, const char *path, enum lkb_initrd_compression comp,
                     const void *ucode, size_t ucode_len, int64_t mtime_clamp,
                     struct lkb_error *err);

#endif
