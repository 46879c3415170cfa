#include "assets.h"

#include <stdio.h>

#ifndef LKB_ISO_ISOLINUX_DIR
#define LKB_ISO_ISOLINUX_DIR "/usr/lib/ISOLINUX"
#endif
#ifndef LKB_ISO_SYSLINUX_BIOS_DIR
#define LKB_ISO_SYSLINUX_BIOS_DIR "/usr/lib/syslinux/modules/bios"
#endif

#ifndef LKB_ISO_EFI_DIR
#define LKB_ISO_EFI_DIR "/usr/lib/systemd/boot/efi"
#endif

/* Inside an assets image: the layout of Debian's packages. */
#define IMAGE_ISOLINUX_DIR "usr/lib/ISOLINUX"
#define IMAGE_SYSLINUX_BIOS_DIR "usr/lib/syslinux/modules/bios"
#define IMAGE_EFI_DIR "usr/lib/systemd/boot/efi"

static const char *opt(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v ? v->value : NULL;
}

int iso_bios_assets(const struct lkb_host_api *api, lkb_host *host,
                    const struct lkb_build_input *in, struct lkb_assets *out)
{
    /* One user directory holds all three files; the packages split them. */
    const char *dir = opt(in, "bios-dir");
    struct lkb_asset_group groups[2] = {
        {dir, IMAGE_ISOLINUX_DIR, LKB_ISO_ISOLINUX_DIR},
        {dir, IMAGE_SYSLINUX_BIOS_DIR, LKB_ISO_SYSLINUX_BIOS_DIR},
    };
    static const struct lkb_asset_want want[] = {
        {ISO_ASSET_ISOLINUX, 0, 1},
        {ISO_ASSET_MBR, 0, 1},
        {ISO_ASSET_LDLINUX, 1, 1},
    };
    char hint[512];
    snprintf(hint, sizeof hint,
             "Give them with -format-opt bios-dir=DIR (isolinux.bin, isohdpfx.bin, ldlinux.c32), "
             "or -format-opt assets-image=REF (an image holding %s/ and %s/), or install Debian's "
             "isolinux and syslinux-common packages",
             IMAGE_ISOLINUX_DIR, IMAGE_SYSLINUX_BIOS_DIR);
    struct lkb_asset_lookup l = {api, host, opt(in, "assets-image"), groups, 2,
                                 "ISOLINUX boot assets", hint};
    struct lkb_disk_error err;
    if (lkb_assets_find(&l, want, sizeof want / sizeof *want, out, &err) < 0)
        return api->set_error(host, "%s", err.msg);
    return LKB_OK;
}

int iso_efi_assets(const struct lkb_host_api *api, lkb_host *host,
                   const struct lkb_build_input *in, const char *name, struct lkb_assets *out)
{
    struct lkb_asset_group group = {opt(in, "efi-dir"), IMAGE_EFI_DIR, LKB_ISO_EFI_DIR};
    struct lkb_asset_want want = {name, 0, 1};
    char hint[512];
    snprintf(hint, sizeof hint,
             "Give it with -format-opt efi-dir=DIR, or -format-opt assets-image=REF (an image "
             "holding %s/), or install Debian's systemd-boot-efi package (for %s; another "
             "architecture's: apt-get download -oAPT::Architecture=%s systemd-boot-efi, then "
             "dpkg-deb -x it)",
             IMAGE_EFI_DIR, in->arch, in->arch);
    struct lkb_asset_lookup l = {api, host, opt(in, "assets-image"), &group, 1,
                                 "UEFI boot assets", hint};
    struct lkb_disk_error err;
    if (lkb_assets_find(&l, &want, 1, out, &err) < 0)
        return api->set_error(host, "%s", err.msg);
    return LKB_OK;
}
