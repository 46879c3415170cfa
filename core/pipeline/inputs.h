/* Files the formats read, made once per build in the temporary directory
 * and only when some format asks: kernel, initrd, rootfs tar, dtbs. */
#ifndef LKB_PIPELINE_INPUTS_H
#define LKB_PIPELINE_INPUTS_H

#include <archive.h>
#include <stdbool.h>
#include <lkb/plugin.h>

#include "pipeline/build_state.h"

/* A regular file of the root tree (boot/kernel, boot/cmdline), or NULL. */
const struct lkb_node *lkb_input_boot_file(struct lkb_build_state *b, const char *path);
/* Paths in b->tmpdir, written on first use; *path is malloc'd. */
int lkb_input_kernel(struct lkb_build_state *b, char **path, struct lkb_error *err);
int lkb_input_ucode(struct lkb_build_state *b, char **path, struct lkb_error *err);
int lkb_input_initrd(struct lkb_build_state *b, char **path, struct lkb_error *err);
int lkb_input_rootfs_tar(struct lkb_build_state *b, char **path, struct lkb_error *err);
/* The root file system as LinuxKit's tar on fd, streamed from the tree;
 * with dockerfile, LinuxKit's Dockerfile last (the docker format). */
int lkb_input_write_rootfs(struct lkb_build_state *b, int fd, bool dockerfile, const char *what,
                           struct lkb_error *err);
/* Device trees of kernel.tar's boot/dtb/ as files under b->tmpdir/dtb. */
struct lkb_dtbs {
    struct lkb_input_file *v1_0;
    struct lkb_file *files;
    size_t n;
};
int lkb_input_dtbs(struct lkb_build_state *b, struct lkb_dtbs *out, struct lkb_error *err);
void lkb_input_dtbs_free(struct lkb_dtbs *d);

#endif
