/* The raw plugin: bootable disk images for VMs, clouds and bare metal.
 * raw-bios/raw-efi are the disk itself (disk.c); qcow2, VHD, VMDK, AWS and
 * GCP carry the same disk in their container (container.c). No root, no
 * Docker, no helper VM (LinuxKit needs Docker, and a VM for qcow2-bios and
 * aws). See docs/raw.md. */
#include <lkb/disk/assets.h>
#include <lkb/disk/efi.h>
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "disk.h"

#ifndef LKB_RAW_EFI_DIR
#define LKB_RAW_EFI_DIR "/usr/lib/systemd/boot/efi"
#endif
#ifndef LKB_RAW_SYSLINUX_DIR
#define LKB_RAW_SYSLINUX_DIR "/usr/lib/SYSLINUX"
#endif
/* Paths inside an assets image: the layout of Debian's packages. */
#define IMAGE_EFI_DIR "usr/lib/systemd/boot/efi"
#define IMAGE_SYSLINUX_DIR "usr/lib/SYSLINUX"

/* What a format writes; its struct lkb_format.data. */
struct raw_format {
    const char *suffix;        /* output name: NAME + suffix */
    enum raw_boot boot;        /* default layout */
    enum raw_container kind;   /* 0: the disk itself */
    int efi_option;            /* -format-opt efi=true selects the EFI layout */
};

static const struct raw_format
    f_raw_bios = {"-bios.img", RAW_BIOS, 0, 0}, f_raw_efi = {"-efi.img", RAW_EFI, 0, 0},
    f_qcow2_bios = {".qcow2", RAW_BIOS, RAW_QCOW2, 1},
    f_qcow2_efi = {"-efi.qcow2", RAW_EFI, RAW_QCOW2, 0},
    f_vhd = {".vhd", RAW_BIOS, RAW_VHD_FIXED, 1}, f_dvhd = {".vhd", RAW_BIOS, RAW_VHD_DYNAMIC, 1},
    f_vmdk = {".vmdk", RAW_BIOS, RAW_VMDK, 1}, f_aws = {".raw", RAW_BIOS, 0, 1},
    f_gcp = {".img.tar.gz", RAW_BIOS, RAW_GCP_TAR, 1};

static const char *opt(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v ? v->value : NULL;
}

static int opt_bool(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v && v->value && v->number;
}

static enum raw_boot boot_of(const struct lkb_build_input *in)
{
    const struct raw_format *f = in->format_data;
    return f->efi_option && opt_bool(in, "efi") ? RAW_EFI : f->boot;
}

static int usage(const struct lkb_host_api *api, lkb_host *host, const char *msg, const char *a,
                 const char *b)
{
    return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE, msg, a, b);
}

/* Plan time: arch, options and the command line, before any fetch. */
static int raw_check(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in)
{
    if (!lkb_efi_arch_from_oci(in->arch))
        return usage(api, host, "%s: architecture %s is not supported (amd64, arm64)", in->format,
                     in->arch);
    if (boot_of(in) == RAW_BIOS && strcmp(in->arch, "amd64") != 0)
        return usage(api, host,
                     "%s: the BIOS layout (syslinux) boots amd64 only, not %s: use raw-efi or "
                     "qcow2-efi, or -format-opt efi=true",
                     in->format, in->arch);
    static const char *const dirs[] = {"efi-dir", "syslinux-dir", "assets-image", "data-label"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        const char *v = opt(in, dirs[i]);
        if (v && !*v)
            return usage(api, host, "%s: -format-opt %s= is empty", in->format, dirs[i]);
    }
    const char *label = opt(in, "data-label");
    if (label && strlen(label) > 16)
        return usage(api, host, "%s: data-label \"%s\" is longer than 16 bytes (ext4)", in->format,
                     label);
    if (in->cmdline && strpbrk(in->cmdline, "\r\n"))
        return usage(api, host, "%s: the kernel command line must be one line%s", in->format, "");
    const char *image = opt(in, "assets-image");
    const char *dir = opt(in, boot_of(in) == RAW_EFI ? "efi-dir" : "syslinux-dir");
    if (image && !dir)
        return api->require_image(host, image);
    return LKB_OK;
}

/* The boot loader: systemd-boot for EFI, syslinux's mbr.bin for BIOS
 * (syslinux itself comes from the installer program). */
static int find_loader(const struct lkb_host_api *api, lkb_host *host,
                       const struct lkb_build_input *in, enum raw_boot boot,
                       enum lkb_efi_arch arch, struct lkb_assets *out)
{
    int efi = boot == RAW_EFI;
    struct lkb_asset_group g = {opt(in, efi ? "efi-dir" : "syslinux-dir"),
                                efi ? IMAGE_EFI_DIR : IMAGE_SYSLINUX_DIR,
                                efi ? LKB_RAW_EFI_DIR : LKB_RAW_SYSLINUX_DIR};
    char hint[512];
    if (efi)
        snprintf(hint, sizeof hint,
                 "Give it with -format-opt efi-dir=DIR or -format-opt assets-image=REF (an image "
                 "holding %s/), or install Debian's systemd-boot-efi (for arm64 on an amd64 host, "
                 "unpack the arm64 .deb and use efi-dir)",
                 IMAGE_EFI_DIR);
    else
        snprintf(hint, sizeof hint,
                 "Give it with -format-opt syslinux-dir=DIR or -format-opt assets-image=REF (an "
                 "image holding %s/), or install Debian's syslinux-common and syslinux",
                 IMAGE_SYSLINUX_DIR);
    struct lkb_asset_lookup l = {api, host, opt(in, "assets-image"), &g, 1,
                                 efi ? "EFI boot loader" : "BIOS boot loader", hint};
    struct lkb_asset_want w = {efi ? lkb_efi_loader_name(arch) : "mbr.bin", 0, 1};
    struct lkb_disk_error err;
    if (lkb_assets_find(&l, &w, 1, out, &err) != 0)
        return api->set_error(host, "%s", err.msg);
    return LKB_OK;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int raw_build(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in)
{
    const struct raw_format *f = in->format_data;
    enum raw_boot boot = boot_of(in);
    enum lkb_efi_arch arch = lkb_efi_arch_from_oci(in->arch);
    if (!in->kernel_path)
        return api->set_error(host, "%s needs a kernel: the configuration has no kernel image",
                              in->format);
    char name[1024], seed[65];
    if ((size_t)snprintf(name, sizeof name, "%s%s", in->name, f->suffix) >= sizeof name)
        return api->set_error(host, "output name too long: %s", in->name);
    hex(in->seed, sizeof in->seed, seed);
    struct lkb_assets loader = {0};
    if (find_loader(api, host, in, boot, arch, &loader) != LKB_OK)
        return LKB_FAIL;
    const char *label = opt_bool(in, "data") ? opt(in, "data-label") : NULL;
    struct raw_disk_spec s = {.boot = boot, .arch = arch, .kernel = in->kernel_path,
                              .initrd = in->initrd_path, .ucode = in->ucode_path,
                              .cmdline = in->cmdline, .size = in->size_bytes, .data_label = label,
                              .seed = seed, .mtime = in->source_date_epoch,
                              .loader = loader.items[0].data, .loader_size = loader.items[0].size};
    char *out = NULL, *tmpdir = NULL, *disk = NULL;
    struct lkb_disk_error err;
    int rc = api->output_path(host, name, &out);
    if (rc == LKB_OK && f->kind) {
        /* The disk goes to a temporary directory the host removes; only
         * the container is an output. */
        rc = api->make_temp_dir(host, &tmpdir);
        size_t len = rc == LKB_OK ? strlen(tmpdir) + sizeof "/disk.raw" : 0;
        if (rc == LKB_OK && (disk = malloc(len)) != NULL)
            snprintf(disk, len, "%s/disk.raw", tmpdir);
        else if (rc == LKB_OK)
            rc = api->set_error(host, "out of memory");
    }
    if (rc == LKB_OK && raw_disk_write(disk ? disk : out, &s, &err) != 0)
        rc = api->set_error(host, "%s: %s", in->format, err.msg);
    if (rc == LKB_OK && f->kind &&
        raw_container_write(f->kind, disk, out, seed, in->source_date_epoch, &err) != 0)
        rc = api->set_error(host, "%s: %s", in->format, err.msg);
    if (disk)
        unlink(disk);
    if (rc == LKB_OK)
        api->log(host, LKB_PLUGIN_LOG_INFO, "%s: %s/%s (%s)", in->format, in->final_dir, name,
                 boot == RAW_EFI ? "EFI" : "BIOS");
    free(disk);
    api->free(tmpdir);
    api->free(out);
    lkb_assets_free(&loader);
    return rc;
}

#define OPT(type, name, def, help) {sizeof(struct lkb_option_decl), type, name, def, help}
#define COMMON_OPTIONS                                                                         \
    OPT(LKB_OPT_STRING, "efi-dir", NULL,                                                       \
        "directory with systemd-bootx64.efi / systemd-bootaa64.efi (systemd-boot-efi)"),      \
        OPT(LKB_OPT_STRING, "syslinux-dir", NULL, "directory with syslinux's mbr.bin"),         \
        OPT(LKB_OPT_STRING, "assets-image", NULL,                                              \
            "OCI image holding " IMAGE_EFI_DIR "/ and " IMAGE_SYSLINUX_DIR "/"),               \
        OPT(LKB_OPT_BOOL, "data", "false",                                                     \
            "add an ext4 data partition filling the rest of the disk"),                        \
        OPT(LKB_OPT_STRING, "data-label", "lkb-data", "label of the data partition")

static const struct lkb_option_decl fixed_options[] = {COMMON_OPTIONS};
static const struct lkb_option_decl bios_options[] = {
    COMMON_OPTIONS,
    OPT(LKB_OPT_BOOL, "efi", "false", "EFI layout (GPT, systemd-boot) instead of BIOS"),
};

static const char *const raw_arches[] = {"amd64", "arm64", NULL};

#define FORMAT(fname, desc, fmt, opts)                                                         \
    {.struct_size = sizeof(struct lkb_format),                                                 \
     .name = fname,                                                                            \
     .description = desc,                                                                      \
     .arches = raw_arches,                                                                     \
     .build = raw_build,                                                                       \
     .data = (void *)&fmt,                                                                     \
     .check = raw_check,                                                                       \
     .options = opts,                                                                          \
     .n_options = sizeof opts / sizeof *opts}

static const struct lkb_format raw_formats[] = {
    FORMAT("raw-bios", "raw disk image, MBR + FAT + syslinux (amd64)", f_raw_bios, fixed_options),
    FORMAT("raw-efi", "raw disk image, GPT + EFI System Partition + systemd-boot", f_raw_efi,
           fixed_options),
    FORMAT("qcow2-bios", "QEMU qcow2 disk, BIOS layout", f_qcow2_bios, bios_options),
    FORMAT("qcow2-efi", "QEMU qcow2 disk, EFI layout", f_qcow2_efi, fixed_options),
    FORMAT("vhd", "fixed VHD disk (Azure, Hyper-V), BIOS layout", f_vhd, bios_options),
    FORMAT("dynamic-vhd", "dynamic VHD disk (Hyper-V), BIOS layout", f_dvhd, bios_options),
    FORMAT("vmdk", "stream-optimised VMDK disk (VMware), BIOS layout", f_vmdk, bios_options),
    FORMAT("aws", "raw disk for AWS EC2 import, BIOS layout", f_aws, bios_options),
    FORMAT("gcp", "disk.raw in a gzip'd tar for Google Compute Engine, BIOS layout", f_gcp,
           bios_options),
};

static const struct lkb_plugin raw_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "raw",
    .version = "1.0",
    .formats = raw_formats,
    .n_formats = sizeof raw_formats / sizeof *raw_formats,
};

/* The host must have output_path/require_image (lkb with ABI 1.1). */
static const struct lkb_plugin *raw_entry(const struct lkb_host_api *api)
{
    if (!LKB_API_HAS(api, output_path) || !LKB_API_HAS(api, require_image)) {
        api->log(NULL, LKB_PLUGIN_LOG_ERROR, "raw needs lkb with plugin ABI 1.1");
        return NULL;
    }
    return &raw_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(raw_entry)
