/* The EFI System Partition image of the UEFI ISO formats: the disk
 * toolkit's ESP contents (<lkb/disk/efi.h>: systemd-boot, a Boot Loader
 * Specification entry, kernel, microcode, initrd) in a FAT file system of
 * the smallest size that holds them, written to a temporary file that the
 * El Torito UEFI entry (platform 0xEF) then points at. */
#ifndef LKB_ISO_ESP_H
#define LKB_ISO_ESP_H

#include <lkb/plugin.h>

/* *path_out (free with free()) names the FAT image in a temporary
 * directory the host removes after the build. */
int iso_esp_image(const struct lkb_host_api *api, lkb_host *host,
                  const struct lkb_build_input *in, char **path_out);

#endif
