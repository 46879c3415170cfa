/* Applying OCI image layers to an in-memory tree (OCI image spec,
 * "Applying Changesets"): whiteouts, opaque directories, hard links. */
#ifndef LKB_ROOTFS_LAYER_H
#define LKB_ROOTFS_LAYER_H

#include <stdint.h>

#include "rootfs/tree.h"
#include "util/error.h"

struct archive;

/* Apply one layer read from `a` (any libarchive-readable tar, compressed or
 * not) on top of t. `what` names the layer in errors (image + digest).
 * Hostile entries are refused: ".." components, hard links to missing or
 * non-regular files, entries below a symlink, malformed whiteouts. */
int lkb_layer_apply(struct lkb_tree *t, struct archive *a, const char *what,
                    struct lkb_error *err);

/* The same for a layer that lies in file from offset base (an unpacked
 * layer, or a tar inside one such as kernel.tar): when `a` reads it as an
 * uncompressed tar, regular files become ranges of file instead of copies
 * (sparse ones are still copied); otherwise, or with file NULL, as
 * lkb_layer_apply. */
int lkb_layer_apply_file(struct lkb_tree *t, struct archive *a, struct lkb_blob_file *file,
                         uint64_t base, const char *what, struct lkb_error *err);

#endif
