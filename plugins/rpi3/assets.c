#include "assets.h"

#include <lkb/disk/assets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LKB_RPI3_FIRMWARE_DIR
#define LKB_RPI3_FIRMWARE_DIR "/usr/lib/raspi-firmware"
#endif
#ifndef LKB_RPI3_UBOOT_DIR
#define LKB_RPI3_UBOOT_DIR "/usr/lib/u-boot/rpi_3"
#endif

/* Paths inside an assets image: the layout of Debian's packages. */
#define IMAGE_FIRMWARE_DIR "usr/lib/raspi-firmware"
#define IMAGE_UBOOT_DIR "usr/lib/u-boot/rpi_3"

static const struct {
    const char *name;
    int required;
    int uboot;
} wanted[] = {
    {"bootcode.bin", 1, 0}, {"start.elf", 1, 0},       {"fixup.dat", 1, 0},
    {"start_cd.elf", 0, 0}, {"fixup_cd.dat", 0, 0},    {"start_x.elf", 0, 0},
    {"fixup_x.dat", 0, 0},  {"LICENCE.broadcom", 0, 0}, {"u-boot.bin", 1, 1},
};
#define N_WANTED (sizeof wanted / sizeof *wanted)

int rpi3_assets_load(const struct lkb_host_api *api, lkb_host *host, struct rpi3_assets *out)
{
    /* The lookup is the disk toolkit's (<lkb/disk/assets.h>); group 0 is
     * the firmware, group 1 u-boot. */
    struct lkb_asset_group groups[2] = {
        {api->option(host, "firmware-dir"), IMAGE_FIRMWARE_DIR, LKB_RPI3_FIRMWARE_DIR},
        {api->option(host, "uboot-dir"), IMAGE_UBOOT_DIR, LKB_RPI3_UBOOT_DIR},
    };
    char hint[512];
    snprintf(hint, sizeof hint,
             "Give them with -format-opt firmware-dir=DIR -format-opt uboot-dir=DIR, or "
             "-format-opt assets-image=REF (an image holding %s/ and %s/), or install Debian's "
             "raspi-firmware and u-boot-rpi packages",
             IMAGE_FIRMWARE_DIR, IMAGE_UBOOT_DIR);
    struct lkb_asset_lookup l = {api,    host, api->option(host, "assets-image"),
                                 groups, 2,    "Raspberry Pi boot assets",
                                 hint};
    struct lkb_asset_want want[N_WANTED];
    for (size_t i = 0; i < N_WANTED; i++)
        want[i] = (struct lkb_asset_want){wanted[i].name, (size_t)wanted[i].uboot,
                                          wanted[i].required};
    struct lkb_assets found;
    struct lkb_disk_error err;
    if (lkb_assets_find(&l, want, N_WANTED, &found, &err) < 0)
        return api->set_error(host, "%s", err.msg);
    out->items = calloc(found.n ? found.n : 1, sizeof *out->items);
    out->n = 0;
    if (!out->items) {
        lkb_assets_free(&found);
        return api->set_error(host, "out of memory");
    }
    /* Take the data over; found keeps nothing to free but its array. */
    for (size_t i = 0; i < found.n; i++, out->n++)
        out->items[i] = (struct rpi3_asset){found.items[i].name,
                                            wanted[found.items[i].want].required,
                                            found.items[i].data, found.items[i].size,
                                            found.items[i].host_owned};
    found.n = 0;
    lkb_assets_free(&found);
    return LKB_OK;
}

void rpi3_assets_free(const struct lkb_host_api *api, struct rpi3_assets *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i].host_owned)
            api->free(a->items[i].data);
        else
            free(a->items[i].data);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}
