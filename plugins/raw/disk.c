#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <lkb/disk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "syslinux.h"

/* Room for ldlinux.sys + ldlinux.c32, which the installer adds later. */
#define SYSLINUX_BYTES (RAW_MiB)
/* The smallest data partition worth making. */
#define DATA_MIN (32 * RAW_MiB)

static uint64_t mib_up(uint64_t b)
{
    return (b + RAW_MiB - 1) & ~(RAW_MiB - 1);
}

/* The boot partition's files: the EFI or the BIOS set. */
static int boot_tree(const struct raw_disk_spec *s, struct lkb_disk_tree *t, struct lkb_efi_esp **esp,
                     char **cfg, struct lkb_disk_error *err)
{
    if (s->boot == RAW_EFI) {
        struct lkb_efi_params p = {s->arch,   s->kernel,    s->initrd,      s->ucode,
                                   s->cmdline, s->loader, s->loader_size};
        return lkb_efi_esp_add(t, "", &p, esp, err);
    }
    if (s->cmdline && strpbrk(s->cmdline, "\r\n")) {
        snprintf(err->msg, sizeof err->msg, "the kernel command line must be one line");
        return -1;
    }
    if (!(*cfg = raw_syslinux_cfg(s->cmdline, s->ucode != NULL))) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    if (lkb_disk_tree_add_file(t, "kernel", s->kernel, err) != 0 ||
        (s->ucode && lkb_disk_tree_add_file(t, "ucode.img", s->ucode, err) != 0) ||
        lkb_disk_tree_add_file(t, "initrd.img", s->initrd, err) != 0)
        return -1;
    return lkb_disk_tree_add_data(t, "syslinux.cfg", *cfg, strlen(*cfg), err);
}

/* Partitions for the disk; fails with the minimum size when it is too small. */
static int plan(const struct raw_disk_spec *s, const struct lkb_disk_tree *t,
                const struct lkb_part_table *table, struct lkb_part *parts, size_t *n,
                uint64_t size, struct lkb_disk_error *err)
{
    uint64_t fat;
    if (lkb_fat_min_bytes(t, LKB_FAT_AUTO, &fat, err) != 0)
        return -1;
    if (s->boot == RAW_BIOS)
        fat += SYSLINUX_BYTES;
    /* Headroom to replace the kernel and initrd in place: twice the files. */
    uint64_t boot = mib_up(2 * fat);
    int efi = s->boot == RAW_EFI;
    parts[0] = (struct lkb_part){.type = efi ? "uefi" : "c", .size = boot,
                                 .name = efi ? "EFI System" : NULL, .bootable = !efi};
    parts[1] = (struct lkb_part){.type = efi ? "linux" : "83", .size = DATA_MIN,
                                 .name = s->data_label};
    *n = s->data_label ? 2 : 1;
    uint64_t need = lkb_part_min_disk_bytes(table, parts, *n);
    if (need > size) {
        snprintf(err->msg, sizeof err->msg,
                 "the disk needs at least %llu MiB (a boot partition of %llu MiB: twice its "
                 "files%s) but -size gives %llu MiB",
                 (unsigned long long)(need / RAW_MiB), (unsigned long long)(boot / RAW_MiB),
                 s->data_label ? ", and a data partition of 32 MiB" : "",
                 (unsigned long long)(size / RAW_MiB));
        return -1;
    }
    /* The last partition takes the rest: the boot partition without a data
     * partition (as LinuxKit's images), else the data partition. */
    parts[*n - 1].size = 0;
    return lkb_part_layout(table, size, parts, *n, err);
}

static int sys_fail(struct lkb_disk_error *err, const char *what, const char *path)
{
    snprintf(err->msg, sizeof err->msg, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

int raw_disk_write(const char *path, const struct raw_disk_spec *s, struct lkb_disk_error *err)
{
    uint64_t size = s->size ? s->size : RAW_DEFAULT_SIZE;
    if (size % 512) {
        snprintf(err->msg, sizeof err->msg, "-size must be a multiple of 512 bytes");
        return -1;
    }
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    if (!t) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    struct lkb_efi_esp *esp = NULL;
    char *cfg = NULL;
    struct lkb_part_table table = {s->boot == RAW_EFI ? LKB_PART_GPT : LKB_PART_MBR, s->seed,
                                   RAW_MiB};
    struct lkb_part parts[2];
    size_t n = 0;
    int rc = boot_tree(s, t, &esp, &cfg, err);
    if (rc == 0)
        rc = plan(s, t, &table, parts, &n, size, err);
    int fd = -1;
    if (rc == 0) {
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            rc = sys_fail(err, "creating", path);
    }
    /* A new file of the disk's size is all holes; only what is written
     * below takes space (the image stays sparse). */
    if (rc == 0 && ftruncate(fd, (off_t)size) < 0)
        rc = sys_fail(err, "sizing", path);
    if (rc == 0)
        rc = lkb_part_write(fd, &table, parts, n, err);
    struct lkb_fat_opts fo = {.type = LKB_FAT_AUTO, .label = s->boot == RAW_EFI ? "EFI" : "LKBBOOT",
                              .seed = s->seed, .hidden_sectors = (uint32_t)(parts[0].start / 512),
                              .mtime = s->mtime};
    if (rc == 0)
        rc = lkb_fat_write(fd, parts[0].start, parts[0].size, &fo, t, err);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = sys_fail(err, "writing", path);
    struct lkb_ext4_opts eo = {.label = s->data_label, .seed = s->seed, .mtime = s->mtime};
    if (rc == 0 && n == 2)
        rc = lkb_ext4_write(path, parts[1].start, parts[1].size, &eo, err);
    if (rc == 0 && s->boot == RAW_BIOS)
        rc = raw_syslinux_install(path, parts[0].start, s->loader, s->loader_size, s->mtime, err);
    if (rc != 0 && fd >= 0)
        unlink(path);
    lkb_efi_esp_free(esp);
    free(cfg);
    lkb_disk_tree_free(t);
    return rc;
}
