/* The bootable disk every raw format starts from: a BIOS layout (MBR, one
 * FAT partition, syslinux) or an EFI layout (GPT, FAT ESP with systemd-boot,
 * lkb/disk/efi.h), optionally followed by an ext4 data partition that fills
 * the rest of the disk. Written sparsely: only metadata and file data. */
#ifndef RAW_DISK_H
#define RAW_DISK_H

#include <lkb/disk/efi.h>
#include <lkb/disk/error.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_MiB (UINT64_C(1) << 20)
#define RAW_DEFAULT_SIZE (1024 * RAW_MiB) /* as LinuxKit */

enum raw_boot { RAW_BIOS = 1, RAW_EFI = 2 };

struct raw_disk_spec {
    enum raw_boot boot;
    enum lkb_efi_arch arch;
    const char *kernel, *initrd, *ucode; /* ucode may be NULL */
    const char *cmdline;
    uint64_t size;          /* disk bytes; 0 = RAW_DEFAULT_SIZE */
    const char *data_label; /* ext4 data partition with this label; NULL = none */
    const char *seed;       /* ids of the table and file systems */
    int64_t mtime;          /* SOURCE_DATE_EPOCH */
    /* BIOS: syslinux's mbr.bin; EFI: systemd-boot. Both in memory. */
    const void *loader;
    size_t loader_size;
};

/* Create `path` (replacing it) holding the disk. On error nothing is left
 * at path. */
int raw_disk_write(const char *path, const struct raw_disk_spec *s, struct lkb_disk_error *err);

#endif
