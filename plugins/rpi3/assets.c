#include "assets.h"

#include <lkb/disk/assets.h>
#include <dirent.h>
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

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of dir as overlays/NAME, sorted so the partition is
 * reproducible. A missing dir is no error: Debian's raspi-firmware ships
 * no overlays. */
static int load_overlays(const struct lkb_host_api *api, lkb_host *host, const char *dir,
                         struct rpi3_assets *out)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0)
        return LKB_OK;
    int rc = LKB_OK;
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        size_t plen = strlen(dir) + strlen(name) + 2, nlen = strlen(name) + 10;
        char *path = malloc(plen), *on_card = malloc(nlen);
        struct rpi3_asset *items = realloc(out->items, (out->n + 1) * sizeof *items);
        if (items)
            out->items = items;
        if (!path || !on_card || !items) {
            rc = api->set_error(host, "out of memory");
        } else if (name[0] != '.') {
            snprintf(path, plen, "%s/%s", dir, name);
            snprintf(on_card, nlen, "overlays/%s", name);
            struct rpi3_asset *a = &out->items[out->n];
            *a = (struct rpi3_asset){.name = on_card, .name_owned = on_card};
            if (lkb_disk_read_file(path, &a->data, &a->size) == 0) {
                out->n++;
                on_card = NULL;
            }
        }
        free(path);
        free(on_card);
        free(list[i]);
    }
    free(list);
    return rc;
}

/* The overlays next to the firmware: in the directory, or in the image
 * (unpacked into a temporary directory the host removes). */
static int load_overlays_from(const struct lkb_host_api *api, lkb_host *host, const char *fw_dir,
                              const char *image, struct rpi3_assets *out)
{
    char *tmp = NULL;
    if (!fw_dir && image) {
        if (api->make_temp_dir(host, &tmp) != LKB_OK)
            return LKB_FAIL;
        /* Fails when the image has no overlays/: then there are none. */
        if (api->image_extract_dir(host, image, IMAGE_FIRMWARE_DIR "/overlays", tmp) != LKB_OK) {
            api->free(tmp);
            return LKB_OK;
        }
    }
    size_t len = strlen(tmp ? tmp : fw_dir ? fw_dir : LKB_RPI3_FIRMWARE_DIR) + 16;
    char *dir = malloc(len);
    int rc = dir ? LKB_OK : api->set_error(host, "out of memory");
    if (dir) {
        if (tmp)
            snprintf(dir, len, "%s", tmp);
        else
            snprintf(dir, len, "%s/overlays", fw_dir ? fw_dir : LKB_RPI3_FIRMWARE_DIR);
        rc = load_overlays(api, host, dir, out);
    }
    free(dir);
    if (tmp)
        api->free(tmp);
    return rc;
}

int rpi3_assets_load(const struct lkb_host_api *api, lkb_host *host, struct rpi3_assets *out)
{
    static const char *const keys[] = {"firmware-dir", "uboot-dir", "assets-image"};
    for (size_t k = 0; k < 3; k++) {
        const char *v = api->option(host, keys[k]);
        if (v && !*v)
            return api->set_error(host, "-format-opt %s= is empty", keys[k]);
    }
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
        out->items[i] = (struct rpi3_asset){.name = found.items[i].name,
                                            .required = wanted[found.items[i].want].required,
                                            .data = found.items[i].data,
                                            .size = found.items[i].size,
                                            .host_owned = found.items[i].host_owned};
    found.n = 0;
    lkb_assets_free(&found);
    if (load_overlays_from(api, host, api->option(host, "firmware-dir"),
                           api->option(host, "assets-image"), out) != LKB_OK) {
        rpi3_assets_free(api, out);
        return LKB_FAIL;
    }
    return LKB_OK;
}

void rpi3_assets_free(const struct lkb_host_api *api, struct rpi3_assets *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->items[i].host_owned)
            api->free(a->items[i].data);
        else
            free(a->items[i].data);
        free(a->items[i].name_owned);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}
