/* The ISO output formats (docs/iso.md). Bootable ones carry the kernel and
 * the initrd, which is the root file system: iso-bios (ISOLINUX, isohybrid
 * so the same file boots from a disk), iso-efi and iso-efi-initrd (UEFI:
 * an El Torito entry for a FAT image holding the disk toolkit's ESP), and
 * iso, both in one hybrid file. kernel+iso is LinuxKit's kernel, cmdline
 * and a data ISO of the root file system. Images are assembled and written
 * with libisofs. */
#include <errno.h>
#include <fcntl.h>
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assets.h"
#include "esp.h"
#include "isoimage.h"
#include "rootfs.h"

enum iso_kind { ISO_BIOS, ISO_EFI, ISO_EFI_INITRD, ISO_HYBRID, ISO_KERNEL_ISO };
static const enum iso_kind kind_bios = ISO_BIOS, kind_efi = ISO_EFI,
                           kind_efi_initrd = ISO_EFI_INITRD, kind_hybrid = ISO_HYBRID,
                           kind_kernel_iso = ISO_KERNEL_ISO;

#define ISO_DEFAULT_VOLID "LinuxKit"

static const char *opt(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v ? v->value : NULL;
}

static enum iso_kind kind_of(const struct lkb_build_input *in)
{
    return *(const enum iso_kind *)in->format_data;
}

/* ECMA-119 volume ids: up to 32 d-characters (A-Z 0-9 _); libisofs maps
 * lower case itself, anything else is refused here rather than mangled. */
static int volid_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 32)
        return 0;
    for (; *v; v++)
        if (!((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
              (*v >= '0' && *v <= '9') || *v == '_'))
            return 0;
    return 1;
}

/* Which boot entries a format's image gets on this arch. */
static int uses_bios(const struct lkb_build_input *in)
{
    enum iso_kind k = kind_of(in);
    return k == ISO_BIOS || (k == ISO_HYBRID && in->arch && strcmp(in->arch, "amd64") == 0);
}

static int uses_efi(const struct lkb_build_input *in)
{
    enum iso_kind k = kind_of(in);
    return k == ISO_EFI || k == ISO_EFI_INITRD || k == ISO_HYBRID;
}

static int iso_check(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in)
{
    enum iso_kind k = kind_of(in);
    if (in->size_bytes)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                   "-size does not apply to %s: an ISO image is as large as its "
                                   "contents",
                                   in->format);
    static const char *const keys[] = {"bios-dir", "efi-dir", "assets-image", "volume-id"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const struct lkb_option_value *v = lkb_input_option(in, keys[i]);
        if (v && v->given && v->value && !*v->value)
            return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE, "-format-opt %s= is empty",
                                       keys[i]);
    }
    const char *volid = opt(in, "volume-id");
    if (volid && !volid_ok(volid))
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                   "volume-id \"%s\": want 1 to 32 of A-Z, a-z, 0-9 and _", volid);
    if (k != ISO_KERNEL_ISO && in->cmdline && strpbrk(in->cmdline, "\r\n"))
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                   "the kernel cmdline cannot contain a line break (it is one "
                                   "line of isolinux.cfg or of a boot loader entry)");
    /* The image serves what no directory option covers. */
    const char *image = opt(in, "assets-image");
    int bios = uses_bios(in), efi = uses_efi(in);
    if (image && ((bios && !opt(in, "bios-dir")) || (efi && !opt(in, "efi-dir"))))
        return api->require_image(host, image);
    return LKB_OK;
}

/* "NAME" + suffix, checked for length. */
static int out_name(const struct lkb_host_api *api, lkb_host *host,
                    const struct lkb_build_input *in, const char *suffix, char *buf, size_t size)
{
    if ((size_t)snprintf(buf, size, "%s%s", in->name, suffix) >= size)
        return api->set_error(host, "output name too long: %s%s", in->name, suffix);
    return LKB_OK;
}

/* Write the image to output `name`, staged by the host. */
static int write_output(struct isoimg *b, const char *name)
{
    int fd;
    if (b->api->output_open(b->host, name, &fd) != LKB_OK)
        return LKB_FAIL;
    int rc = isoimg_write(b, fd, name);
    if (close(fd) < 0 && rc == LKB_OK)
        rc = b->api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "closing %s: %s", name,
                                    strerror(errno));
    return rc;
}

/* An x86 bzImage (boot protocol header "HdrS" at 0x202): what isolinux's
 * KERNEL loads. */
static int check_bzimage(const struct lkb_host_api *api, lkb_host *host, const char *path)
{
    unsigned char hdr[0x206];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, hdr, sizeof hdr);
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "reading the kernel %s: %s", path,
                                   strerror(errno));
    if (n < (ssize_t)sizeof hdr || memcmp(hdr + 0x202, "HdrS", 4) != 0)
        return api->set_error(host, "the kernel is not an x86 bzImage (no \"HdrS\" at 0x202): "
                                    "ISOLINUX boots amd64 kernels");
    return LKB_OK;
}

static char *isolinux_cfg(const char *cmdline)
{
    /* No prompt, no timeout: boot straight into the one entry. */
    static const char fmt[] = "# Generated by lkb (docs/iso.md)\n"
                              "DEFAULT linux\n"
                              "PROMPT 0\n"
                              "TIMEOUT 0\n"
                              "LABEL linux\n"
                              "  KERNEL /kernel\n"
                              "  INITRD /initrd.img\n"
                              "  APPEND %s\n";
    size_t len = sizeof fmt + strlen(cmdline);
    char *s = malloc(len);
    if (s)
        snprintf(s, len, fmt, cmdline);
    return s;
}

/* ISOLINUX, its configuration, kernel, initrd and cmdline in the ISO 9660
 * tree, the BIOS El Torito entry and the isohybrid MBR. */
static int build_bios(struct isoimg *b, const struct lkb_build_input *in)
{
    const struct lkb_host_api *api = b->api;
    if (!in->kernel_path)
        return api->set_error(b->host, "%s needs a kernel: the configuration has none",
                              in->format);
    if (check_bzimage(api, b->host, in->kernel_path) != LKB_OK)
        return LKB_FAIL;
    if (in->ucode_path)
        api->log(b->host, LKB_PLUGIN_LOG_WARN,
                 "%s: ISOLINUX boots without the microcode cpio (UEFI loads it)", in->format);
    struct lkb_assets assets;
    if (iso_bios_assets(api, b->host, in, &assets) != LKB_OK)
        return LKB_FAIL;
    const struct lkb_asset *isolinux = lkb_assets_get(&assets, ISO_ASSET_ISOLINUX),
                           *ldlinux = lkb_assets_get(&assets, ISO_ASSET_LDLINUX),
                           *mbr = lkb_assets_get(&assets, ISO_ASSET_MBR);
    char *cfg = isolinux_cfg(in->cmdline ? in->cmdline : "");
    int rc = cfg ? LKB_OK : api->set_error(b->host, "out of memory");
    if (rc == LKB_OK)
        rc = isoimg_add_data(b, "isolinux/isolinux.bin", isolinux->data, isolinux->size, 0444);
    if (rc == LKB_OK)
        rc = isoimg_add_data(b, "isolinux/ldlinux.c32", ldlinux->data, ldlinux->size, 0444);
    if (rc == LKB_OK)
        rc = isoimg_add_data(b, "isolinux/isolinux.cfg", cfg, strlen(cfg), 0444);
    if (rc == LKB_OK)
        rc = isoimg_add_path(b, "kernel", in->kernel_path, 0444, NULL);
    if (rc == LKB_OK)
        rc = isoimg_add_path(b, "initrd.img", in->initrd_path, 0444, NULL);
    if (rc == LKB_OK)
        rc = isoimg_add_data(b, "cmdline", in->cmdline ? in->cmdline : "",
                             in->cmdline ? strlen(in->cmdline) : 0, 0444);
    if (rc == LKB_OK)
        rc = isoimg_boot_isolinux(b, "/isolinux/isolinux.bin", "/isolinux/boot.cat", mbr->data,
                                  mbr->size);
    free(cfg);
    lkb_assets_free(&assets);
    return rc;
}

/* Copy a host file into output `name`. */
static int copy_output(const struct lkb_host_api *api, lkb_host *host, const char *src,
                       const char *name)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    if (in < 0)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "reading %s: %s", src,
                                   strerror(errno));
    if (api->output_open(host, name, &out) != LKB_OK) {
        close(in);
        return LKB_FAIL;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = LKB_OK;
    while (rc == LKB_OK && (n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        for (ssize_t off = 0; n > 0 && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                n = -1;
                break;
            }
            off += w;
        }
        if (n < 0)
            rc = api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "writing %s: %s", name,
                                     strerror(errno ? errno : EIO));
    }
    close(in);
    if (close(out) < 0 && rc == LKB_OK)
        rc = api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "closing %s: %s", name,
                                 strerror(errno));
    return rc;
}

static int build_kernel_iso(struct isoimg *b, const struct lkb_build_input *in)
{
    const struct lkb_host_api *api = b->api;
    char name[1024], *tmp = NULL;
    if (!in->kernel_path)
        return api->set_error(b->host, "kernel+iso needs a kernel: the configuration has none");
    if (out_name(api, b->host, in, "-kernel", name, sizeof name) != LKB_OK ||
        copy_output(api, b->host, in->kernel_path, name) != LKB_OK)
        return LKB_FAIL;
    /* Written even when empty, as LinuxKit does. */
    int fd;
    if (out_name(api, b->host, in, "-cmdline", name, sizeof name) != LKB_OK ||
        api->output_open(b->host, name, &fd) != LKB_OK)
        return LKB_FAIL;
    const char *cl = in->cmdline ? in->cmdline : "";
    size_t len = strlen(cl);
    int rc = (size_t)write(fd, cl, len) == len ? LKB_OK
                                               : api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO,
                                                                     "writing %s: %s", name,
                                                                     strerror(errno));
    if (close(fd) < 0 && rc == LKB_OK)
        rc = api->set_error_kind(b->host, LKB_PLUGIN_ERR_IO, "closing %s", name);
    if (rc != LKB_OK || api->make_temp_dir(b->host, &tmp) != LKB_OK)
        return LKB_FAIL;
    rc = iso_rootfs_add(b, in->rootfs_tar_path, tmp);
    api->free(tmp);
    return rc;
}

/* The ESP as a FAT image in the ISO 9660 tree and the UEFI El Torito entry
 * pointing at it (with a GPT entry in the hybrid iso, for disks). */
static int build_efi(struct isoimg *b, const struct lkb_build_input *in)
{
    char *esp = NULL;
    if (iso_esp_image(b->api, b->host, in, &esp) != LKB_OK)
        return LKB_FAIL;
    int rc = isoimg_add_path(b, "efi/esp.img", esp, 0444, NULL);
    if (rc == LKB_OK)
        rc = isoimg_boot_efi(b, "/efi/esp.img", "/efi/boot.cat", kind_of(in) == ISO_HYBRID);
    free(esp);
    return rc;
}

static int iso_build(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in)
{
    enum iso_kind k = kind_of(in);
    const char *volid = opt(in, "volume-id");
    struct isoimg b;
    if (isoimg_new(&b, api, host, volid ? volid : ISO_DEFAULT_VOLID, in->source_date_epoch) !=
        LKB_OK)
        return LKB_FAIL;
    char name[1024];
    static const char *const suffix[] = {[ISO_BIOS] = ".iso", [ISO_EFI] = "-efi.iso",
                                         [ISO_EFI_INITRD] = "-efi-initrd.iso",
                                         [ISO_HYBRID] = ".iso", [ISO_KERNEL_ISO] = ".iso"};
    int rc = LKB_OK;
    if (k == ISO_KERNEL_ISO)
        rc = build_kernel_iso(&b, in);
    if (rc == LKB_OK && uses_bios(in))
        rc = build_bios(&b, in);
    if (rc == LKB_OK && uses_efi(in))
        rc = build_efi(&b, in);
    if (rc == LKB_OK)
        rc = out_name(api, host, in, suffix[k], name, sizeof name);
    if (rc == LKB_OK)
        rc = write_output(&b, name);
    if (rc == LKB_OK)
        api->log(host, LKB_PLUGIN_LOG_INFO, "%s: %s/%s", in->format, in->final_dir, name);
    isoimg_free(&b);
    return rc;
}

#define OPT(type, name, def, help) {sizeof(struct lkb_option_decl), type, name, def, help}
#define VOLID_OPTION                                                                           \
    OPT(LKB_OPT_STRING, "volume-id", ISO_DEFAULT_VOLID, "ISO 9660 volume id (1-32 of A-Z 0-9 _)")
#define BIOS_DIR_OPTION                                                                        \
    OPT(LKB_OPT_STRING, "bios-dir", NULL,                                                     \
        "directory with isolinux.bin, isohdpfx.bin and ldlinux.c32")
#define EFI_DIR_OPTION                                                                         \
    OPT(LKB_OPT_STRING, "efi-dir", NULL,                                                      \
        "directory with systemd-bootx64.efi or systemd-bootaa64.efi")
#define IMAGE_OPTION(what)                                                                     \
    OPT(LKB_OPT_STRING, "assets-image", NULL, "OCI image holding " what)
static const struct lkb_option_decl bios_options[] = {
    BIOS_DIR_OPTION,
    IMAGE_OPTION("usr/lib/ISOLINUX and usr/lib/syslinux/modules/bios"),
    VOLID_OPTION,
};
static const struct lkb_option_decl efi_options[] = {
    EFI_DIR_OPTION,
    IMAGE_OPTION("usr/lib/systemd/boot/efi"),
    VOLID_OPTION,
};
static const struct lkb_option_decl hybrid_options[] = {
    BIOS_DIR_OPTION,
    EFI_DIR_OPTION,
    IMAGE_OPTION("usr/lib/ISOLINUX, usr/lib/syslinux/modules/bios and usr/lib/systemd/boot/efi"),
    VOLID_OPTION,
};
static const struct lkb_option_decl data_options[] = {VOLID_OPTION};
static const char *const amd64_only[] = {"amd64", NULL};
static const char *const efi_arches[] = {"amd64", "arm64", NULL};

#define FORMAT(fname, desc, arch, kind, opts, in)                                              \
    {.struct_size = sizeof(struct lkb_format), .name = fname, .description = desc,              \
     .arches = arch, .build = iso_build, .data = (void *)&kind, .check = iso_check,            \
     .options = opts, .n_options = sizeof opts / sizeof *opts, .inputs = in}

static const struct lkb_format iso_formats[] = {
    FORMAT("iso-bios", "BIOS-bootable hybrid ISO (ISOLINUX) with the initrd as root", amd64_only,
           kind_bios, bios_options, 0),
    FORMAT("iso-efi", "UEFI-bootable ISO (systemd-boot) with the initrd as root", efi_arches,
           kind_efi, efi_options, 0),
    FORMAT("iso-efi-initrd", "UEFI-bootable ISO (systemd-boot) with kernel and initrd",
           efi_arches, kind_efi_initrd, efi_options, 0),
    FORMAT("iso", "one hybrid ISO for BIOS and UEFI, from a CD or written to a disk",
           efi_arches, kind_hybrid, hybrid_options, 0),
    FORMAT("kernel+iso", "kernel, cmdline and a data ISO of the root file system", NULL,
           kind_kernel_iso, data_options, LKB_INPUT_ROOTFS_TAR),
};

static const struct lkb_plugin iso_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "iso",
    .version = "0.3",
    .formats = iso_formats,
    .n_formats = sizeof iso_formats / sizeof *iso_formats,
};

/* The host must have output_open/require_image (lkb with ABI 1.1). */
static const struct lkb_plugin *iso_entry(const struct lkb_host_api *api)
{
    if (!LKB_API_HAS(api, output_open) || !LKB_API_HAS(api, require_image)) {
        api->log(NULL, LKB_PLUGIN_LOG_ERROR, "iso needs lkb with plugin ABI 1.1");
        return NULL;
    }
    return &iso_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(iso_entry)
