/* Boot assets of the ISO formats, found with the disk toolkit's lookup
 * (<lkb/disk/assets.h>): a directory option (bios-dir, efi-dir), else the
 * assets-image option, else the packagers' default directories (Debian's
 * isolinux, syslinux-common and systemd-boot-efi). */
#ifndef LKB_ISO_ASSETS_H
#define LKB_ISO_ASSETS_H

#include <lkb/disk/assets.h>
#include <lkb/plugin.h>

#define ISO_ASSET_ISOLINUX "isolinux.bin"
#define ISO_ASSET_MBR "isohdpfx.bin"
#define ISO_ASSET_LDLINUX "ldlinux.c32"

/* Every BIOS asset, or an error naming each missing file and each place
 * looked. Free with lkb_assets_free. */
int iso_bios_assets(const struct lkb_host_api *api, lkb_host *host,
                    const struct lkb_build_input *in, struct lkb_assets *out);

/* The UEFI boot loader `name` (systemd-bootx64.efi, systemd-bootaa64.efi). */
int iso_efi_assets(const struct lkb_host_api *api, lkb_host *host,
                   const struct lkb_build_input *in, const char *name, struct lkb_assets *out);

#endif
