/* Parallel gzip (the pigz technique): the input is cut into 1 MiB blocks
 * compressed on all cores, each primed with the previous block's last
 * 32 KiB as dictionary and ended with a sync flush, then joined into ONE
 * gzip member with a combined CRC. The kernel's initramfs unpacker wants a
 * single member per cpio archive; the bytes do not depend on the number of
 * threads, so output stays reproducible across machines. */
#ifndef LKB_INITRD_PGZIP_H
#define LKB_INITRD_PGZIP_H

#include <stddef.h>

#include "util/error.h"

struct lkb_pgzip;

/* threads <= 0: the number of online CPUs (at most 8). */
struct lkb_pgzip *lkb_pgzip_new(int fd, int threads, int level);
int lkb_pgzip_write(struct lkb_pgzip *z, const void *data, size_t len, struct lkb_error *err);
/* Compress what is left, write the trailer, free z (also on error). */
int lkb_pgzip_finish(struct lkb_pgzip *z, struct lkb_error *err);

#endif
