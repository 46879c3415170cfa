/* Raspberry Pi boot assets (GPU firmware and its overlays, u-boot): found in directories
 * given by options, in an OCI image, or in the packagers' default
 * directories, in that order. */
#ifndef LKB_RPI3_ASSETS_H
#define LKB_RPI3_ASSETS_H

#include <lkb/plugin.h>
#include <stddef.h>

struct rpi3_asset {
    const char *name;     /* name on the SD card */
    char *name_owned;     /* name, when malloc'd (overlays/...) */
    int required;
    unsigned char *data;  /* malloc'd (or host-allocated: freed with api->free) */
    size_t size;
    int host_owned;
};

struct rpi3_assets {
    struct rpi3_asset *items;
    size_t n;
};

/* Load every asset, and every file of the firmware's overlays/ directory
 * when there is one (as "overlays/NAME", sorted); on a missing required
 * one, fail with a message listing each missing file and every place
 * looked. */
int rpi3_assets_load(const struct lkb_host_api *api, lkb_host *host, struct rpi3_assets *out);
void rpi3_assets_free(const struct lkb_host_api *api, struct rpi3_assets *a);

#endif
