#include "sdimage.h"

#include <errno.h>
#include <lkb/disk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (UINT64_C(1) << 20)
#define RPI3_SEED "lkb-rpi3"  /* ids derived from it: the image is reproducible */
#define RPI3_MTIME 1492533000 /* lkb's fixed time for the file systems */

static int sys_fail(struct lkb_disk_error *err, const char *what, const char *path)
{
    snprintf(err->msg, sizeof err->msg, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

int sdimage_write(const char *path, const struct sd_layout *l, const struct fat_file *files,
                  size_t n, char *msg, size_t msglen)
{
    struct lkb_disk_error err = {""};
    struct lkb_disk_tree *tree = lkb_disk_tree_new();
    if (!tree) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    uint64_t boot = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = lkb_disk_tree_add_data(tree, files[i].path, files[i].data, files[i].size, &err);
    if (rc == 0)
        rc = lkb_fat_min_bytes(tree, LKB_FAT32, &boot, &err);
    if (rc < 0) {
        snprintf(msg, msglen, "%s", err.msg);
        lkb_disk_tree_free(tree);
        return -1;
    }
    /* Headroom to replace the kernel and initrd in place later: twice what
     * the files take, at least 64 MiB. The boot partition also takes
     * whatever a fixed-size data partition leaves (all of it without one). */
    boot = 2 * boot < 64 * MiB ? 64 * MiB : 2 * boot;
    int rest = l->data_size == UINT64_MAX;
    struct lkb_part_table table = {LKB_PART_MBR, RPI3_SEED, MiB};
    struct lkb_part parts[2] = {{.type = "c", .size = boot, .bootable = 1}, {.type = "83"}};
    size_t n_parts = l->data_size ? 2 : 1;
    if (l->data_size && !rest)
        parts[1].size = (l->data_size + MiB - 1) & ~(MiB - 1);
    /* A "rest" data partition counts as one MiB here; give it 64. */
    uint64_t total = l->total,
             need = lkb_part_min_disk_bytes(&table, parts, n_parts) + (rest ? 63 * MiB : 0);
    if (!total) {
        /* A power of two: QEMU's SD card model insists on it. */
        total = 64 * MiB;
        while (total < need)
            total *= 2;
    }
    if (need > total) {
        snprintf(msg, msglen,
                 "the SD image needs %llu MiB (a boot partition of %llu MiB: twice its files, at "
                 "least 64) but -size gives %llu MiB",
                 (unsigned long long)((need + MiB - 1) / MiB), (unsigned long long)(boot / MiB),
                 (unsigned long long)(total / MiB));
        lkb_disk_tree_free(tree);
        return -1;
    }
    if (!rest) /* the boot partition grows into what is left */
        parts[0].size = (total - MiB - parts[1].size) & ~(MiB - 1);
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    int fd = -1;
    if (tmp) {
        snprintf(tmp, plen, "%s.tmp-XXXXXX", path);
        fd = mkstemp(tmp);
    }
    if (fd < 0) {
        snprintf(msg, msglen, "creating %s: %s", path, tmp ? strerror(errno) : "out of memory");
        free(tmp);
        lkb_disk_tree_free(tree);
        return -1;
    }
    if (fchmod(fd, 0644) < 0 || ftruncate(fd, (off_t)total) < 0)
        rc = sys_fail(&err, "sizing", path);
    if (rc == 0)
        rc = lkb_part_write(fd, &table, parts, n_parts, &err);
    struct lkb_fat_opts fo = {LKB_FAT32, "LKBBOOT", 0, RPI3_SEED, (uint32_t)(parts[0].start / 512),
                              RPI3_MTIME};
    if (rc == 0)
        rc = lkb_fat_write(fd, parts[0].start, parts[0].size, &fo, tree, &err);
    if (close(fd) < 0 && rc == 0)
        rc = sys_fail(&err, "writing", path);
    struct lkb_ext4_opts eo = {NULL, "lkb-data", RPI3_SEED, RPI3_MTIME, 4096, NULL};
    if (rc == 0 && n_parts == 2 && strcmp(l->data_fs, "ext4") == 0)
        rc = lkb_ext4_write(tmp, parts[1].start, parts[1].size, &eo, &err);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = sys_fail(&err, "renaming into", path);
    if (rc < 0) {
        snprintf(msg, msglen, "%s", err.msg);
        unlink(tmp);
    }
    free(tmp);
    lkb_disk_tree_free(tree);
    return rc < 0 ? -1 : 0;
}
