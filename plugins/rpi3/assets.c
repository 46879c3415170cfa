#include "assets.h"

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

static int read_file(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) < 0) {
        fclose(f);
        return -1;
    }
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *data = buf;
    *size = (size_t)n;
    return 0;
}

int rpi3_assets_load(const struct lkb_host_api *api, lkb_host *host, struct rpi3_assets *out)
{
    out->items = calloc(N_WANTED, sizeof *out->items);
    out->n = 0;
    if (!out->items)
        return api->set_error(host, "out of memory");
    const char *fw_dir = api->option(host, "firmware-dir");
    const char *ub_dir = api->option(host, "uboot-dir");
    const char *image = api->option(host, "assets-image");
    char missing[16384] = "";
    size_t mlen = 0;
    for (size_t i = 0; i < N_WANTED; i++) {
        struct rpi3_asset *a = &out->items[out->n];
        a->name = wanted[i].name;
        a->required = wanted[i].required;
        const char *opt_dir = wanted[i].uboot ? ub_dir : fw_dir;
        const char *def_dir = wanted[i].uboot ? LKB_RPI3_UBOOT_DIR : LKB_RPI3_FIRMWARE_DIR;
        char path[4096], looked[8192] = "";
        int found = 0;
        if (opt_dir) {
            snprintf(path, sizeof path, "%s/%s", opt_dir, a->name);
            found = read_file(path, &a->data, &a->size) == 0;
            snprintf(looked, sizeof looked, "%s", path);
        } else if (image) {
            snprintf(path, sizeof path, "%s/%s",
                     wanted[i].uboot ? IMAGE_UBOOT_DIR : IMAGE_FIRMWARE_DIR, a->name);
            void *d = NULL;
            size_t n = 0;
            found = api->image_read_file(host, image, path, &d, &n) == LKB_OK;
            if (found) {
                a->data = d;
                a->size = n;
                a->host_owned = 1;
            }
            snprintf(looked, sizeof looked, "/%s in image %s", path, image);
        } else {
            snprintf(path, sizeof path, "%s/%s", def_dir, a->name);
            found = read_file(path, &a->data, &a->size) == 0;
            snprintf(looked, sizeof looked, "%s", path);
        }
        if (found) {
            out->n++;
        } else if (a->required && mlen < sizeof missing) {
            mlen += (size_t)snprintf(missing + mlen, sizeof missing - mlen, "\n  %s (looked at %s)",
                                     a->name, looked);
        }
    }
    if (mlen) {
        rpi3_assets_free(api, out);
        return api->set_error(
            host,
            "missing Raspberry Pi boot assets:%s\nGive them with -format-opt firmware-dir=DIR "
            "-format-opt uboot-dir=DIR, or -format-opt assets-image=REF (an image holding %s/ "
            "and %s/), or install Debian's raspi-firmware and u-boot-rpi packages",
            missing, IMAGE_FIRMWARE_DIR, IMAGE_UBOOT_DIR);
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
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}
