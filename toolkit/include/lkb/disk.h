/* liblkb-disk: the disk toolkit of the lkb plugin SDK (docs/toolkit.md).
 *
 * Building blocks for output-format plugins that write disk images: FAT
 * file systems from a file tree, MBR/GPT partition tables (libfdisk), ext4
 * (mke2fs -d), u-boot uImages, a reproducible external-tool runner, boot-
 * asset lookup, and deterministic ids. Link with
 * `pkg-config --cflags --libs lkb-disk`. It links nothing of lkb itself;
 * host services come through the struct lkb_host_api a plugin is given. */
#ifndef LKB_DISK_H
#define LKB_DISK_H

#define LKB_DISK_VERSION_MAJOR 1
#define LKB_DISK_VERSION_MINOR 0

#include <lkb/disk/assets.h>
#include <lkb/disk/efi.h>
#include <lkb/disk/error.h>
#include <lkb/disk/ext4.h>
#include <lkb/disk/fat.h>
#include <lkb/disk/id.h>
#include <lkb/disk/part.h>
#include <lkb/disk/run.h>
#include <lkb/disk/tree.h>
#include <lkb/disk/uimage.h>

#endif
