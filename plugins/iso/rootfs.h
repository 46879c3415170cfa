/* kernel+iso: the root file system tar as the tree of a data ISO, the way
 * LinuxKit's kernel+iso does it (everything under boot/ but boot/dtb/
 * left out, the kernel and cmdline being outputs of their own). */
#ifndef LKB_ISO_ROOTFS_H
#define LKB_ISO_ROOTFS_H

#include "isoimage.h"

/* Add every entry of the tar at tar_path to the image with its own mode,
 * owner, mtime and type (files, directories, symlinks, hard links, device
 * nodes, fifos). File data is unpacked into tmp_dir, where libisofs reads
 * it when the image is written. */
int iso_rootfs_add(struct isoimg *b, const char *tar_path, const char *tmp_dir);

/* Whether kernel+iso leaves the tar entry `path` (no leading "./") out. */
int iso_rootfs_skipped(const char *path);

#endif
