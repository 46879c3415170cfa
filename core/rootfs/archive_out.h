/* Writing a tree as an archive (cpio newc for the initrd, pax tar for the
 * tar outputs) with libarchive, in tree order, hard links preserved. */
#ifndef LKB_ROOTFS_ARCHIVE_OUT_H
#define LKB_ROOTFS_ARCHIVE_OUT_H

#include <stdbool.h>

#include "rootfs/tree.h"
#include "util/error.h"

struct archive;

/* Entries for which skip() is true are left out (e.g. boot/kernel). */
typedef bool (*lkb_tree_skip_fn)(const struct lkb_node *n, void *ctx);

/* Write every live entry of t to an archive already opened for writing.
 * mtime_clamp >= 0 caps every mtime (SOURCE_DATE_EPOCH). */
int lkb_tree_write_archive(struct lkb_tree *t, struct archive *a, lkb_tree_skip_fn skip,
                           void *ctx, int64_t mtime_clamp, struct lkb_error *err);

#endif
