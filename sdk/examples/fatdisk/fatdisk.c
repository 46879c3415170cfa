/* Example disk-image plugin built out of tree with the lkb disk toolkit:
 *
 *   cc -shared -fPIC $(pkg-config --cflags lkb-plugin lkb-disk) fatdisk.c \
 *      $(pkg-config --libs lkb-disk) -o fatdisk.so
 *
 * Format "fatdisk" writes <name>.fat.img: a FAT file system (FAT12/16/32
 * by size) holding the kernel, the initrd and cmdline.txt, e.g. for a
 * boot loader that reads FAT. Files are streamed from the host's paths into
 * the image (no whole file in memory). Option: -format-opt label=NAME. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <lkb/disk.h>
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* errno as a toolkit error: "<what> <path>: <reason>". Returns -1. */
static int sys_error(struct lkb_disk_error *err, const char *what, const char *path)
{
    snprintf(err->msg, sizeof err->msg, "%s %.3000s: %s", what, path, strerror(errno));
    return -1;
}

static int fatdisk_build(const struct lkb_host_api *api, lkb_host *host,
                         const struct lkb_build_input *in)
{
    if (!in->kernel_path)
        return api->set_error(host, "fatdisk needs a kernel: the configuration has none");
    const char *label = api->option(host, "label");
    if (!label)
        label = "LKB";
    struct lkb_disk_error err;
    struct lkb_disk_tree *tree = lkb_disk_tree_new();
    const char *cmdline = in->cmdline ? in->cmdline : "";
    int rc = tree ? 0 : -1;
    if (rc == 0)
        rc = lkb_disk_tree_add_file(tree, "kernel", in->kernel_path, &err);
    if (rc == 0 && in->initrd_path)
        rc = lkb_disk_tree_add_file(tree, "initrd.img", in->initrd_path, &err);
    if (rc == 0)
        rc = lkb_disk_tree_add_data(tree, "cmdline.txt", cmdline, strlen(cmdline), &err);
    uint64_t bytes = 0;
    if (rc == 0)
        rc = lkb_fat_min_bytes(tree, LKB_FAT_AUTO, &bytes, &err);
    if (rc == 0 && in->size_bytes) {
        if (in->size_bytes < bytes) {
            lkb_disk_tree_free(tree);
            return api->set_error(host, "the files need %llu MiB, -size gives %llu MiB",
                                  (unsigned long long)(bytes >> 20),
                                  (unsigned long long)(in->size_bytes >> 20));
        }
        bytes = in->size_bytes & ~(uint64_t)511;
    }

    /* Written next to the output and renamed into place: nothing partial
     * is ever left under the final name. */
    char final[4096], tmp[4200];
    int n = snprintf(final, sizeof final, "%s.fat.img", in->output_base);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof final)) {
        lkb_disk_tree_free(tree);
        return api->set_error(host, "output path too long");
    }
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", final);
    int fd = rc == 0 ? mkstemp(tmp) : -1;
    if (rc == 0 && fd < 0)
        rc = sys_error(&err, "creating", final);
    if (rc == 0 && (fchmod(fd, 0644) < 0 || ftruncate(fd, (off_t)bytes) < 0))
        rc = sys_error(&err, "sizing", final);
    /* The seed makes the volume serial reproducible; the name is a fine one. */
    struct lkb_fat_opts opts = {.type = LKB_FAT_AUTO, .label = label, .seed = in->name};
    if (rc == 0)
        rc = lkb_fat_write(fd, 0, bytes, &opts, tree, &err);
    if (rc == 0 && fsync(fd) < 0)
        rc = sys_error(&err, "writing", final);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, final) < 0)
        rc = sys_error(&err, "renaming into", final);
    if (fd >= 0 && rc != 0)
        unlink(tmp);
    lkb_disk_tree_free(tree);
    if (rc != 0)
        return api->set_error(host, "%s", tree ? err.msg : "out of memory");
    api->log(host, LKB_PLUGIN_LOG_INFO, "  %s (%s, %llu MiB)", final,
             lkb_fat_auto_type(bytes) == LKB_FAT32 ? "FAT32"
             : lkb_fat_auto_type(bytes) == LKB_FAT16 ? "FAT16" : "FAT12",
             (unsigned long long)(bytes >> 20));
    return LKB_OK;
}

static const struct lkb_format fatdisk_formats[] = {
    {
        .struct_size = sizeof(struct lkb_format),
        .name = "fatdisk",
        .description = "example toolkit plugin: kernel, initrd and cmdline in a FAT image",
        .arches = NULL,
        .build = fatdisk_build,
    },
};

static const struct lkb_plugin fatdisk_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "fatdisk",
    .version = "1.0",
    .formats = fatdisk_formats,
    .n_formats = 1,
};

static const struct lkb_plugin *fatdisk_entry(const struct lkb_host_api *api)
{
    /* Everything used here is in ABI 1.0's host table. */
    return api->abi_version == LKB_PLUGIN_ABI_VERSION ? &fatdisk_plugin : NULL;
}

LKB_PLUGIN_DEFINE_ENTRY(fatdisk_entry)
