/* Example disk-image plugin built out of tree with the lkb disk toolkit:
 *
 *   cc -shared -fPIC $(pkg-config --cflags lkb-plugin lkb-disk) fatdisk.c \
 *      $(pkg-config --libs lkb-disk) -o fatdisk.so
 *
 * Format "fatdisk" writes <name>.fat.img: a FAT file system (FAT12/16/32
 * by size) holding the kernel, the initrd and cmdline.txt, e.g. for a
 * boot loader that reads FAT. Files are streamed from the host's paths into
 * the image (no whole file in memory). Option: -format-opt label=NAME.
 * ABI 1.1: the option is declared, the output is opened through the host
 * (staged, committed only when every format of the build succeeded), and
 * the volume serial and timestamps come from the build's seed and
 * SOURCE_DATE_EPOCH, so the image is reproducible. */
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
    const struct lkb_option_value *lv = lkb_input_option(in, "label");
    const char *label = lv && lv->value ? lv->value : "LKB";
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

    /* The host stages the file and renames it into -dir only when the whole
     * build succeeded: nothing partial is ever left under the final name. */
    char name[1024];
    int n = snprintf(name, sizeof name, "%s.fat.img", in->name);
    if (rc == 0 && (n < 0 || (size_t)n >= sizeof name)) {
        lkb_disk_tree_free(tree);
        return api->set_error(host, "output name too long");
    }
    int fd = -1;
    if (rc == 0 && api->output_open(host, name, &fd) != LKB_OK) {
        lkb_disk_tree_free(tree);
        return LKB_FAIL;
    }
    if (rc == 0 && ftruncate(fd, (off_t)bytes) < 0)
        rc = sys_error(&err, "sizing", name);
    /* Serial from the build's seed (as hex text), timestamps from
     * SOURCE_DATE_EPOCH: the same inputs give the same bytes. */
    char seed[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(seed + 2 * i, 3, "%02x", in->seed[i]);
    struct lkb_fat_opts opts = {.type = LKB_FAT_AUTO, .label = label, .seed = seed,
                                .mtime = in->source_date_epoch};
    if (rc == 0)
        rc = lkb_fat_write(fd, 0, bytes, &opts, tree, &err);
    if (fd >= 0)
        close(fd);
    lkb_disk_tree_free(tree);
    if (rc != 0)
        return api->set_error(host, "%s", tree ? err.msg : "out of memory");
    api->log(host, LKB_PLUGIN_LOG_INFO, "  %s/%s (%s, %llu MiB)", in->final_dir, name,
             lkb_fat_auto_type(bytes) == LKB_FAT32 ? "FAT32"
             : lkb_fat_auto_type(bytes) == LKB_FAT16 ? "FAT16" : "FAT12",
             (unsigned long long)(bytes >> 20));
    return LKB_OK;
}

static const struct lkb_option_decl fatdisk_options[] = {
    {sizeof(struct lkb_option_decl), LKB_OPT_STRING, "label", "LKB", "FAT volume label"},
};

static const struct lkb_format fatdisk_formats[] = {
    {
        .struct_size = sizeof(struct lkb_format),
        .name = "fatdisk",
        .description = "example toolkit plugin: kernel, initrd and cmdline in a FAT image",
        .arches = NULL,
        .build = fatdisk_build,
        .options = fatdisk_options,
        .n_options = sizeof fatdisk_options / sizeof *fatdisk_options,
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
    /* output_open is ABI 1.1: refuse an older host rather than crash. */
    return api->abi_version == LKB_PLUGIN_ABI_VERSION && LKB_API_HAS(api, output_open)
               ? &fatdisk_plugin
               : NULL;
}

LKB_PLUGIN_DEFINE_ENTRY(fatdisk_entry)
