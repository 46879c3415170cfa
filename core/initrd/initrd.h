/* The initrd: the root tree (minus the kernel's boot files) as
 * concatenated compressed cpio "newc" archives (segments, see initrd.c),
 * with an optional uncompressed microcode cpio in front
 * (build-and-outputs.md §12). */
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

struct lkb_initrd_opts {
    enum lkb_initrd_compression comp;
    const void *ucode; /* uncompressed microcode cpio written first, or NULL */
    size_t ucode_len;
    int64_t mtime_clamp;       /* >= 0 caps every mtime (SOURCE_DATE_EPOCH) */
    const char *segment_cache; /* the lkb cache directory: segments are reused
                                  from and stored in its segments/; NULL: none */
};

/* What one write did (for -v and the tests). */
struct lkb_initrd_stats {
    size_t components; /* base, kernel modules, container bundles */
    size_t archives;   /* compressed cpio archives written */
    size_t cached;     /* of which taken from the segment cache */
    size_t compressed; /* of which compressed by this write */
    uint64_t cpio_bytes, bytes;
    double seconds;
};

/* lkb_initrd_write with a segment cache; stats may be NULL. The bytes
 * written do not depend on what the cache held. */
int lkb_initrd_write_opts(struct lkb_tree *t, const char *path, const struct lkb_initrd_opts *o,
                          struct lkb_initrd_stats *stats, struct lkb_error *err);

#endif
