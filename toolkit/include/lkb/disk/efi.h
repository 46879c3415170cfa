/* The contents of an EFI System Partition that boots a Linux kernel and
 * initrd, added to a file tree (lkb/disk/tree.h) for lkb_fat_write:
 *
 *   EFI/BOOT/BOOTX64.EFI | BOOTAA64.EFI   systemd-boot (Debian systemd-boot-efi)
 *   loader/loader.conf                    default entry, no menu (timeout 0)
 *   loader/entries/lkb.conf               Boot Loader Specification entry
 *   kernel                                the kernel, as the EFI firmware can start it
 *   ucode.img                             microcode cpio, when given (first initrd)
 *   initrd.img                            the initrd
 *
 * systemd-boot + a BLS entry, not a unified kernel image (UKI), on both
 * arches: one route that boots under OVMF and AAVMF alike, kernel and
 * initrd stay plain files streamed by the FAT writer (a UKI would need a
 * PE writer of our own: Debian's x86 binutils cannot write aarch64 PE), and
 * the command line stays editable in a text file on the ESP.
 *
 * The kernel is taken as the kernel image ships it: an amd64 bzImage is an
 * EFI application already; Debian's arm64 vmlinuz is a gzip-compressed
 * Image, which EFI cannot start, so it is decompressed (zlib) into memory
 * owned by the returned lkb_efi_esp. Everything is a function of the
 * inputs: the same inputs give the same tree. */
#ifndef LKB_DISK_EFI_H
#define LKB_DISK_EFI_H

#include <lkb/disk/error.h>
#include <lkb/disk/tree.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lkb_efi_arch {
    LKB_EFI_AMD64 = 1,
    LKB_EFI_ARM64 = 2,
};

struct lkb_efi_params {
    enum lkb_efi_arch arch;
    const char *kernel_path; /* bzImage (amd64); Image or gzip'd Image (arm64) */
    const char *initrd_path;
    const char *ucode_path; /* microcode cpio loaded before the initrd, NULL if none */
    const char *cmdline;    /* one line; NULL = empty */
    /* systemd-bootx64.efi / systemd-bootaa64.efi, in memory (as lkb_assets_find
     * reads it); must stay valid until the tree is written. */
    const void *loader;
    size_t loader_size;
};

/* Memory the tree points to (the decompressed kernel, the loader files). */
struct lkb_efi_esp;

/* "amd64" -> LKB_EFI_AMD64, "arm64" -> LKB_EFI_ARM64, else 0. */
enum lkb_efi_arch lkb_efi_arch_from_oci(const char *arch);

/* The boot loader's file name in Debian's systemd-boot-efi
 * (/usr/lib/systemd/boot/efi): "systemd-bootx64.efi" / "systemd-bootaa64.efi". */
const char *lkb_efi_loader_name(enum lkb_efi_arch arch);

/* The removable-media path the firmware starts: "EFI/BOOT/BOOTX64.EFI" /
 * "EFI/BOOT/BOOTAA64.EFI". */
const char *lkb_efi_boot_path(enum lkb_efi_arch arch);

/* Add the ESP's files (above) under `dir` of tree ("" = its root). *out
 * must be freed with lkb_efi_esp_free after the tree is written. Errors: an
 * unknown arch, a missing loader, a command line with a newline, an
 * unreadable or corrupt kernel, a PE that is not for the arch. */
int lkb_efi_esp_add(struct lkb_disk_tree *tree, const char *dir, const struct lkb_efi_params *p,
                    struct lkb_efi_esp **out, struct lkb_disk_error *err);

void lkb_efi_esp_free(struct lkb_efi_esp *esp);

#ifdef __cplusplus
}
#endif

#endif
