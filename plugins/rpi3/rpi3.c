/* The rpi3 output format: a tar to extract onto a FAT32 SD card, booting
 * GPU firmware -> 64-bit u-boot -> boot.scr -> Linux with lkb's initrd.
 * Works on any host: nothing here runs arm64 code (LinuxKit requires an
 * arm64 host and a Docker tool image). See docs/rpi3.md. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <lkb/disk/assets.h>
#include <lkb/disk/uimage.h>
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "assets.h"
#include "bootscr.h"
#include "configtxt.h"
#include "dtbs.h"
#include "sdimage.h"

#define RPI3_MTIME 1492533000 /* lkb's fixed mtime for generated entries */

/* booti needs the raw arm64 Image; LinuxKit kernels ship Image.gz. */
static int gunzip(unsigned char **data, size_t *size)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return -1;
    size_t cap = *size * 4, len = 0;
    unsigned char *out = malloc(cap);
    zs.next_in = *data;
    zs.avail_in = (uInt)*size;
    int rc = Z_OK;
    while (out && rc == Z_OK) {
        if (len == cap) {
            unsigned char *n = realloc(out, cap * 2);
            if (!n)
                break;
            out = n;
            cap *= 2;
        }
        zs.next_out = out + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(out);
        return -1;
    }
    free(*data);
    *data = out;
    *size = len;
    return 0;
}

struct tarw {
    struct archive *a;
    struct archive_entry *e;
};

static int tar_add(struct tarw *t, const char *name, const void *data, size_t size, int dir)
{
    archive_entry_clear(t->e);
    archive_entry_set_pathname(t->e, name);
    archive_entry_set_filetype(t->e, dir ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(t->e, dir ? 0755 : 0644);
    archive_entry_set_mtime(t->e, RPI3_MTIME, 0);
    archive_entry_set_size(t->e, dir ? 0 : (la_int64_t)size);
    if (archive_write_header(t->a, t->e) != ARCHIVE_OK)
        return -1;
    if (!dir && size && archive_write_data(t->a, data, size) != (la_ssize_t)size)
        return -1;
    return 0;
}

/* Everything that goes onto the boot partition, in tar order. */
struct boot_files {
    struct fat_file *f;
    size_t n;
    unsigned char **owned; /* buffers to free */
    size_t n_owned;
    char **names;
    size_t n_names;
};

static int bf_add(struct boot_files *b, const char *name, const unsigned char *data, size_t size,
                  unsigned char *owned)
{
    struct fat_file *nf = realloc(b->f, (b->n + 1) * sizeof *nf);
    unsigned char **no = realloc(b->owned, (b->n_owned + 1) * sizeof *no);
    char **nn = realloc(b->names, (b->n_names + 1) * sizeof *nn);
    if (nf)
        b->f = nf;
    if (no)
        b->owned = no;
    if (nn)
        b->names = nn;
    char *copy = strdup(name);
    if (!nf || !no || !nn || !copy) {
        free(copy);
        free(owned);
        return -1;
    }
    b->names[b->n_names++] = copy;
    if (owned)
        b->owned[b->n_owned++] = owned;
    b->f[b->n++] = (struct fat_file){copy, data, size};
    return 0;
}

static void bf_free(struct boot_files *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    for (size_t i = 0; i < b->n_names; i++)
        free(b->names[i]);
    free(b->owned);
    free(b->names);
    free(b->f);
}

static unsigned char *with_uimage(const struct lkb_uimage_params *p,
                                  const unsigned char *payload, size_t len)
{
    unsigned char *img = malloc(LKB_UIMAGE_HEADER_SIZE + len);
    if (img) {
        lkb_uimage_header(img, p, payload, len);
        memcpy(img + LKB_UIMAGE_HEADER_SIZE, payload, len);
    }
    return img;
}

static int collect(const struct lkb_host_api *api, lkb_host *host,
                   const struct lkb_build_input *in, struct rpi3_assets *assets,
                   struct boot_files *bf)
{
    if (!in->arch || strcmp(in->arch, "arm64") != 0)
        return api->set_error(host,
                              "rpi3 needs an arm64 kernel and init: build with -arch arm64 "
                              "(this is the target, any host works)");
    if (!in->kernel_path)
        return api->set_error(host, "rpi3 needs a kernel: the configuration has no kernel image");
    struct rpi3_dtb_copy *dtbs = NULL;
    size_t n_dtb = 0;
    if (rpi3_dtb_plan(in->dtbs, in->n_dtbs, &dtbs, &n_dtb) < 0)
        return api->set_error(host, "out of memory");
    if (!n_dtb)
        return api->set_error(host, "no BCM2837 device tree (broadcom/bcm2837-*.dtb or "
                                    "bcm2710-*.dtb): the kernel image's kernel.tar must contain "
                                    "boot/dtb/broadcom/");
    char *script = rpi3_boot_script(in->cmdline ? in->cmdline : ""), *config = NULL;
    size_t clen = 0;
    if (!script) {
        rpi3_dtb_plan_free(dtbs, n_dtb);
        return api->set_error(host, "the kernel cmdline cannot contain a single quote, a "
                                    "backslash or a newline (u-boot script quoting)");
    }
    if ((config = rpi3_config_txt(api, host, &clen)) == NULL ||
        rpi3_assets_load(api, host, assets) != LKB_OK) {
        free(config);
        free(script);
        rpi3_dtb_plan_free(dtbs, n_dtb);
        return LKB_FAIL;
    }
    unsigned char *kernel = NULL, *initrd = NULL;
    size_t klen = 0, ilen = 0, slen = 0;
    int rc = LKB_FAIL;
    if (lkb_disk_read_file(in->kernel_path, &kernel, &klen) < 0 ||
        lkb_disk_read_file(in->initrd_path, &initrd, &ilen) < 0) {
        api->set_error(host, "reading the kernel or initrd: %s", strerror(errno));
        goto out;
    }
    if (klen > 2 && kernel[0] == 0x1f && kernel[1] == 0x8b && gunzip(&kernel, &klen) < 0) {
        api->set_error(host, "the kernel is gzip data but does not decompress");
        goto out;
    }
    if (klen < 64 || memcmp(kernel + 56, "ARM\x64", 4) != 0) {
        api->set_error(host, "the kernel is not an arm64 Image (no ARM\\x64 magic at 0x38)");
        goto out;
    }
    for (size_t i = 0; i < assets->n; i++)
        if (strcmp(assets->items[i].name, "u-boot.bin") != 0 &&
            bf_add(bf, assets->items[i].name, assets->items[i].data, assets->items[i].size,
                   NULL) < 0)
            goto oom;
    if (bf_add(bf, "config.txt", (unsigned char *)config, clen, (unsigned char *)config) < 0) {
        config = NULL; /* bf_add freed it */
        goto oom;
    }
    config = NULL; /* bf owns it */
    for (size_t i = 0; i < assets->n; i++)
        if (strcmp(assets->items[i].name, "u-boot.bin") == 0 &&
            bf_add(bf, "u-boot.bin", assets->items[i].data, assets->items[i].size, NULL) < 0)
            goto oom;
    unsigned char *scr = lkb_uimage_script(script, "lkb boot script", &slen);
    if (!scr || bf_add(bf, "boot.scr", scr, slen, scr) < 0)
        goto oom;
    struct lkb_uimage_params kp = {.type = LKB_UIMAGE_TYPE_KERNEL, .load = RPI3_KERNEL_IMAGE_ADDR,
                                   .entry = RPI3_KERNEL_IMAGE_ADDR, .name = "lkb kernel"};
    struct lkb_uimage_params ip = {.type = LKB_UIMAGE_TYPE_RAMDISK, .name = "lkb initrd"};
    unsigned char *ku = with_uimage(&kp, kernel, klen);
    if (!ku || bf_add(bf, "kernel.uimg", ku, klen + LKB_UIMAGE_HEADER_SIZE, ku) < 0)
        goto oom;
    unsigned char *iu = with_uimage(&ip, initrd, ilen);
    if (!iu || bf_add(bf, "initrd.uimg", iu, ilen + LKB_UIMAGE_HEADER_SIZE, iu) < 0)
        goto oom;
    for (size_t i = 0; i < n_dtb; i++) {
        unsigned char *d;
        size_t dl;
        const char *path = in->dtbs[dtbs[i].src].path;
        if (lkb_disk_read_file(path, &d, &dl) < 0) {
            api->set_error(host, "reading %s: %s", path, strerror(errno));
            goto out;
        }
        if (bf_add(bf, dtbs[i].name, d, dl, d) < 0)
            goto oom;
    }
    rc = LKB_OK;
    goto out;
oom:
    api->set_error(host, "out of memory");
out:
    free(kernel);
    free(initrd);
    free(script);
    free(config);
    rpi3_dtb_plan_free(dtbs, n_dtb);
    return rc;
}

/* Directory entries for file i's parents that no earlier file has. */
static int tar_parents(struct tarw *t, const struct boot_files *bf, size_t i)
{
    const char *path = bf->f[i].path;
    for (const char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/')) {
        size_t len = (size_t)(sl - path);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strncmp(bf->f[j].path, path, len + 1) == 0;
        char dir[512];
        if (seen)
            continue;
        if (len >= sizeof dir)
            return -1;
        memcpy(dir, path, len);
        dir[len] = '\0';
        if (tar_add(t, dir, NULL, 0, 1) < 0)
            return -1;
    }
    return 0;
}

/* The tar streams into an output the host commits with the build's other
 * outputs (ABI 1.1 output_open): no temporary name, no rename here. */
static int write_tar(const struct lkb_host_api *api, lkb_host *host, const char *name,
                     const struct boot_files *bf)
{
    int fd;
    if (api->output_open(host, name, &fd) != LKB_OK)
        return LKB_FAIL;
    struct tarw t = {archive_write_new(), archive_entry_new()};
    archive_write_set_format_ustar(t.a);
    archive_write_set_bytes_in_last_block(t.a, 1);
    int ok = archive_write_open_fd(t.a, fd) == ARCHIVE_OK;
    for (size_t i = 0; ok && i < bf->n; i++)
        ok = tar_parents(&t, bf, i) == 0 &&
             tar_add(&t, bf->f[i].path, bf->f[i].data, bf->f[i].size, 0) == 0;
    ok = ok && archive_write_close(t.a) == ARCHIVE_OK;
    if (!ok)
        api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "writing %s: %s", name,
                            archive_error_string(t.a) ? archive_error_string(t.a)
                                                      : strerror(errno));
    archive_write_free(t.a);
    archive_entry_free(t.e);
    close(fd);
    return ok ? LKB_OK : LKB_FAIL;
}

static int parse_size(const char *s, uint64_t *out)
{
    if (strcmp(s, "rest") == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    if (!strcmp(end, "M"))
        v <<= 20;
    else if (!strcmp(end, "G"))
        v <<= 30;
    else if (*end)
        return -1;
    *out = v;
    return 0;
}

/* An option's value (given or default), checked by the host (types) and
 * by rpi3_check. */
static const char *opt(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v ? v->value : NULL;
}

/* Plan time: everything that can be wrong without fetching anything, and
 * the assets image joins the build's fetch phase. */
static int rpi3_check(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    uint64_t size;
    const char *ds = opt(in, "data-size"), *fs = opt(in, "data-fs");
    if (ds && parse_size(ds, &size) < 0)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                   "data-size \"%s\": want e.g. 512M, 2G or rest", ds);
    if (fs && strcmp(fs, "ext4") && strcmp(fs, "none"))
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE, "data-fs \"%s\": want ext4 or none",
                                   fs);
    char *script = rpi3_boot_script(in->cmdline ? in->cmdline : "");
    if (!script)
        return api->set_error(host, "the kernel cmdline cannot contain a single quote, a "
                                    "backslash or a newline (u-boot script quoting)");
    free(script);
    /* Directories win per asset kind (assets.c); the image serves the rest. */
    const char *image = opt(in, "assets-image");
    if (image && (!opt(in, "firmware-dir") || !opt(in, "uboot-dir")))
        return api->require_image(host, image);
    return LKB_OK;
}

/* Which output a format writes; its struct lkb_format.data. */
enum rpi3_output { RPI3_TAR, RPI3_IMAGE };
static const enum rpi3_output rpi3_tar = RPI3_TAR, rpi3_image = RPI3_IMAGE;

/* One build function for both formats (ABI 1.1 format_data). */
static int rpi3_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    int image = *(const enum rpi3_output *)in->format_data == RPI3_IMAGE;
    struct rpi3_assets assets = {0};
    struct boot_files bf = {0};
    int rc = collect(api, host, in, &assets, &bf);
    char name[1024];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", in->name, image ? "img" : "tar") >= sizeof name)
        rc = api->set_error(host, "output name too long: %s", in->name);
    if (rc == LKB_OK && !image) {
        rc = write_tar(api, host, name, &bf);
    } else if (rc == LKB_OK) {
        struct sd_layout l = {in->size_bytes, 0, "ext4"};
        const char *ds = opt(in, "data-size"), *fs = opt(in, "data-fs");
        if (ds)
            parse_size(ds, &l.data_size); /* checked in rpi3_check */
        if (fs)
            l.data_fs = fs;
        char msg[1024], *path = NULL;
        if (api->output_path(host, name, &path) != LKB_OK)
            rc = LKB_FAIL;
        else if (sdimage_write(path, &l, bf.f, bf.n, msg, sizeof msg) < 0)
            rc = api->set_error(host, "%s", msg);
        api->free(path);
    }
    if (rc == LKB_OK)
        api->log(host, LKB_PLUGIN_LOG_INFO, "%s: %s/%s", image ? "rpi3-img" : "rpi3",
                 in->final_dir, name);
    bf_free(&bf);
    rpi3_assets_free(api, &assets);
    return rc;
}

static const char *const rpi3_arches[] = {"arm64", NULL};

#define OPT(type, name, def, help) {sizeof(struct lkb_option_decl), type, name, def, help}
#define ASSET_OPTIONS                                                                          \
    OPT(LKB_OPT_STRING, "firmware-dir", NULL, "directory with bootcode.bin, start.elf, ..."),  \
        OPT(LKB_OPT_STRING, "uboot-dir", NULL, "directory with u-boot.bin (rpi_3, 64-bit)"),   \
        OPT(LKB_OPT_STRING, "assets-image", NULL,                                              \
            "OCI image holding usr/lib/raspi-firmware and usr/lib/u-boot/rpi_3"),           \
        OPT(LKB_OPT_STRING, "config-txt-file", NULL, "file whose lines are added to config.txt"), \
        OPT(LKB_OPT_STRING, "config-txt-append", NULL, "text added to config.txt")

static const struct lkb_option_decl rpi3_options[] = {ASSET_OPTIONS};
static const struct lkb_option_decl rpi3_img_options[] = {
    ASSET_OPTIONS,
    OPT(LKB_OPT_STRING, "data-size", NULL, "second partition: a size (512M, 2G) or rest"),
    OPT(LKB_OPT_STRING, "data-fs", "ext4", "data partition file system: ext4 or none"),
};

static const struct lkb_format rpi3_formats[] = {
    {.struct_size = sizeof(struct lkb_format),
     .name = "rpi3",
     .description = "Raspberry Pi 3 SD card tar (firmware, u-boot, boot.scr)",
     .arches = rpi3_arches,
     .build = rpi3_build,
     .data = (void *)&rpi3_tar,
     .check = rpi3_check,
     .options = rpi3_options,
     .n_options = sizeof rpi3_options / sizeof *rpi3_options},
    {.struct_size = sizeof(struct lkb_format),
     .name = "rpi3-img",
     .description = "Raspberry Pi 3 SD card image (MBR, FAT32 boot, optional data partition)",
     .arches = rpi3_arches,
     .build = rpi3_build,
     .data = (void *)&rpi3_image,
     .check = rpi3_check,
     .options = rpi3_img_options,
     .n_options = sizeof rpi3_img_options / sizeof *rpi3_img_options},
};

static const struct lkb_plugin rpi3_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "rpi3",
    .version = "0.3",
    .formats = rpi3_formats,
    .n_formats = 2,
};

/* The host must have output_open/require_image (lkb with ABI 1.1). */
static const struct lkb_plugin *rpi3_entry(const struct lkb_host_api *api)
{
    if (!LKB_API_HAS(api, output_open) || !LKB_API_HAS(api, require_image)) {
        api->log(NULL, LKB_PLUGIN_LOG_ERROR, "rpi3 needs lkb with plugin ABI 1.1");
        return NULL;
    }
    return &rpi3_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(rpi3_entry)
