/* Boot-asset lookup (firmware, boot loaders, ...) for disk-image plugins,
 * generalised from the rpi3 plugin. Assets come in groups (e.g. "firmware"
 * and "u-boot"); for each group exactly one place is searched, the first
 * that is configured:
 *   1. a directory given by the user (a plugin option),
 *   2. a directory inside an OCI image (the `image` option, read through the
 *      host function table, so it is fetched and cached like any image),
 *   3. the packagers' default directories (chosen at build time, e.g. with
 *      CMake; a ':'-separated list, searched in order).
 * A missing required asset is an error that names each missing file and
 * each place it was looked for. */
#ifndef LKB_DISK_ASSETS_H
#define LKB_DISK_ASSETS_H

#include <lkb/disk/error.h>
#include <lkb/plugin.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lkb_asset_group {
    const char *dir;          /* 1. user's directory, NULL when not given */
    const char *image_dir;    /* 2. directory inside the assets image ("usr/lib/x") */
    const char *default_dirs; /* 3. "dir1:dir2", NULL for none */
};

struct lkb_asset_want {
    const char *name; /* file name inside the group's directory */
    size_t group;     /* index into the groups */
    int required;
};

struct lkb_asset_lookup {
    /* For image lookups (may be NULL when image is NULL). */
    const struct lkb_host_api *api;
    lkb_host *host;
    const char *image; /* OCI image reference, or NULL */
    const struct lkb_asset_group *groups;
    size_t n_groups;
    const char *what; /* for the message: "missing <what>:" e.g. "Raspberry Pi boot assets" */
    const char *hint; /* appended to the message: how to give them */
};

struct lkb_asset {
    const char *name; /* the want's name */
    size_t want;      /* index into the wants */
    unsigned char *data;
    size_t size;
    int host_owned; /* data from api->image_read_file: freed with api->free */
};

struct lkb_assets {
    struct lkb_asset *items; /* the found ones, in the wants' order */
    size_t n;
    const struct lkb_host_api *api;
};

/* Find and read every wanted asset. Optional ones that are missing are
 * left out of the result. */
int lkb_assets_find(const struct lkb_asset_lookup *l, const struct lkb_asset_want *want,
                    size_t n_want, struct lkb_assets *out, struct lkb_disk_error *err);

/* The found asset with that name, or NULL. */
const struct lkb_asset *lkb_assets_get(const struct lkb_assets *a, const char *name);

void lkb_assets_free(struct lkb_assets *a);

/* Read a whole regular host file (an asset, a config.txt, a dtb) into a
 * malloc'd buffer, NUL-terminated for text (the NUL is not counted in
 * *size). 0, or -1 with errno set (EISDIR when it is not a regular file). */
int lkb_disk_read_file(const char *path, unsigned char **data, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
