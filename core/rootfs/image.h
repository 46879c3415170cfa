/* Placing a fetched image into the root file system the way LinuxKit does
 * (build-and-outputs.md §3): flatten its layers, filter and rewrite a few
 * names, add the guaranteed entries, all under a prefix. */
#ifndef LKB_ROOTFS_IMAGE_H
#define LKB_ROOTFS_IMAGE_H

#include <stdint.h>

#include "oci/oci.h"
#include "rootfs/tree.h"
#include "util/error.h"

/* LinuxKit's fixed mtime for generated entries: 2017-04-18T16:30:00Z. */
#define LKB_DEFAULT_MTIME INT64_C(1492533000)

enum lkb_resolv_mode {
    LKB_RESOLV_SYMLINK,  /* init and volumes: etc/resolv.conf -> /run/resolvconf/resolv.conf */
    LKB_RESOLV_CONTENTS, /* containers: a fixed placeholder file */
};

/* Flatten all layers of img into a fresh tree (bottom layer first). */
/* The most bytes of file data a layer of this compressed size may hold. */
uint64_t lkb_rootfs_layer_limit(int64_t compressed);

int lkb_rootfs_flatten(struct lkb_image *img, struct lkb_tree *out, struct lkb_error *err);

/* Emit one 0755 directory per component of prefix ("a/b/c" -> a, a/b, a/b/c). */
int lkb_rootfs_prefix_dirs(struct lkb_tree *root, const char *prefix, int64_t mtime,
                           struct lkb_error *err);

/* Flatten img and add it under prefix ("" for the root) with LinuxKit's
 * filter (§3.3): drop .dockerenv, Dockerfile, dev/console, dev/pts,
 * dev/shm, etc/hostname; replace etc/hosts and etc/resolv.conf; then the
 * guaranteed dev, dev/pts, dev/shm, etc, etc/hosts, etc/mtab,
 * etc/resolv.conf, proc, sys. */
int lkb_rootfs_add_image(struct lkb_tree *root, struct lkb_image *img, const char *prefix,
                         enum lkb_resolv_mode mode, struct lkb_error *err);

#endif
