/* A cpio "newc" archive built in memory, one initrd segment at a time.
 * Written by hand rather than with libarchive because every segment is a
 * complete archive of its own (entries, then TRAILER!!!) whose bytes must
 * depend only on its entries: inode numbers restart in each archive, and
 * the caller decides where one archive ends and the next begins. */
#ifndef LKB_INITRD_CPIO_H
#define LKB_INITRD_CPIO_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct lkb_cpio {
    unsigned char *buf;
    size_t len, cap;
    uint32_t next_ino; /* the next inode number of this archive */
};

struct lkb_cpio_hdr {
    uint32_t ino, mode, uid, gid, nlink;
    int64_t mtime; /* clamped to newc's 32 bits */
    uint64_t size; /* the data that follows */
    uint32_t rdev_major, rdev_minor;
};

/* Empty the archive (the buffer is kept for reuse). */
void lkb_cpio_reset(struct lkb_cpio *c);
void lkb_cpio_free(struct lkb_cpio *c);
/* Append a header and name; data (h->size bytes, may be NULL when 0)
 * follows with lkb_cpio_data then lkb_cpio_pad. */
int lkb_cpio_header(struct lkb_cpio *c, const char *name, const struct lkb_cpio_hdr *h,
                    struct lkb_error *err);
int lkb_cpio_data(struct lkb_cpio *c, const void *data, size_t len, struct lkb_error *err);
/* Pad to 4 bytes (after an entry's data). */
int lkb_cpio_pad(struct lkb_cpio *c, struct lkb_error *err);
/* The TRAILER!!! entry that ends the archive. */
int lkb_cpio_trailer(struct lkb_cpio *c, struct lkb_error *err);

#endif
