/* The root file system as the tar LinuxKit writes (build-and-outputs.md
 * §10): ustar headers, each entry preceded by a pax header carrying
 * LINUXKIT.source and LINUXKIT.location (plus path/linkpath/size/uid/gid/
 * mtime when the ustar fields cannot hold them), records sorted by key,
 * two zero blocks at the end. Hand-written because libarchive writes no
 * pax records of the caller's own. */
#ifndef LKB_PIPELINE_ROOTFS_TAR_H
#define LKB_PIPELINE_ROOTFS_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "rootfs/archive_out.h"
#include "rootfs/tree.h"
#include "util/error.h"

struct lkb_tar_writer {
    int fd;
    const char *what; /* for messages */
    unsigned char *buf;
    size_t len;
};

int lkb_tar_begin(struct lkb_tar_writer *w, int fd, const char *what, struct lkb_error *err);
/* The root entry "./" (unless t->root.omit), then every live entry of t
 * not skipped, in tree order; hard links as type 1 to the first name.
 * mtime_clamp >= 0 caps every mtime (SOURCE_DATE_EPOCH). */
int lkb_tar_tree(struct lkb_tar_writer *w, struct lkb_tree *t, lkb_tree_skip_fn skip, void *ctx,
                 int64_t mtime_clamp, struct lkb_error *err);
/* A regular file, uid/gid 0, no pax records (LinuxKit's Dockerfile). */
int lkb_tar_plain_file(struct lkb_tar_writer *w, const char *name, const void *data, size_t size,
                       uint32_t mode, int64_t mtime, struct lkb_error *err);
/* The end-of-archive blocks; flushes and frees. */
int lkb_tar_end(struct lkb_tar_writer *w, struct lkb_error *err);
/* Frees without writing the end (after an error). */
void lkb_tar_abort(struct lkb_tar_writer *w);

#endif
