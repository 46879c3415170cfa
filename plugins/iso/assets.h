/* BIOS boot assets of the ISO formats (ISOLINUX), found with the disk
 * toolkit's lookup (<lkb/disk/assets.h>): the bios-dir option, else the
 * assets-image option, else the packagers' default directories (Debian's
 * isolinux and syslinux-common). */
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

#endif
