/* The BIOS boot chain of the raw formats: syslinux.cfg for the FAT
 * partition, syslinux installed into that partition with Debian's mtools
 * based installer (no mount, no root), and syslinux's MBR boot code. */
#ifndef RAW_SYSLINUX_H
#define RAW_SYSLINUX_H

#include <lkb/disk/error.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_MBR_CODE_SIZE 440 /* boot code before the disk id and table */

/* syslinux.cfg booting /kernel with [/ucode.img,]/initrd.img; malloc'd,
 * NULL when out of memory. */
char *raw_syslinux_cfg(const char *cmdline, int ucode);

/* Install ldlinux.sys/ldlinux.c32 into the FAT file system at byte offset
 * of the disk image at path, then put mbr (the first 440 bytes of
 * syslinux's mbr.bin) in front of the partition table. */
int raw_syslinux_install(const char *path, uint64_t offset, const void *mbr, size_t mbr_size,
                         int64_t source_date_epoch, struct lkb_disk_error *err);

#endif
