/* Boot-asset lookup: the user's directory, then an image (through the
 * host table), then the default directories; optional files may be
 * missing; a missing required one names each file and each place. The
 * image case uses a small stand-in host table; the real host is exercised
 * end to end by test_rpi3.sh (assets-image). */
#include <criterion/criterion.h>
#include <lkb/disk/assets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_testlib.h"

TestSuite(assets, .fini = tl_cleanup);

static const struct lkb_asset_want wants[] = {
    {"boot.bin", 0, 1},
    {"extra.bin", 0, 0},
    {"loader.bin", 1, 1},
};

static void files(void)
{
    int st;
    free(tl_sh(&st, "mkdir -p %s/fw %s/def1 %s/def2", tl_tmpdir(), tl_tmpdir(), tl_tmpdir()));
    tl_write(tl_path("fw/boot.bin"), "BOOT", 4);
    tl_write(tl_path("def2/loader.bin"), "LOADER", 6);
}

Test(assets, user_dir_then_default_dirs_in_order)
{
    files();
    char defs[1100];
    snprintf(defs, sizeof defs, "%s:%s", tl_path("def1"), tl_path("def2"));
    struct lkb_asset_group g[2] = {{tl_path("fw"), "usr/lib/fw", "/nonexistent"},
                                   {NULL, "usr/lib/loader", defs}};
    struct lkb_asset_lookup l = {NULL, NULL, NULL, g, 2, "test assets", NULL};
    struct lkb_assets a;
    struct lkb_disk_error err;
    cr_assert_eq(lkb_assets_find(&l, wants, 3, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n, 2); /* extra.bin is optional and absent */
    const struct lkb_asset *b = lkb_assets_get(&a, "boot.bin"), *ld = lkb_assets_get(&a, "loader.bin");
    cr_assert(b && b->size == 4 && memcmp(b->data, "BOOT", 4) == 0);
    cr_assert(ld && ld->size == 6 && memcmp(ld->data, "LOADER", 6) == 0 && ld->want == 2);
    cr_assert_null(lkb_assets_get(&a, "extra.bin"));
    lkb_assets_free(&a);
}

Test(assets, missing_files_name_every_place)
{
    files();
    char defs[1100];
    snprintf(defs, sizeof defs, "%s:%s", tl_path("def1"), tl_path("fw"));
    struct lkb_asset_group g[2] = {{tl_path("nowhere"), NULL, NULL}, {NULL, NULL, defs}};
    struct lkb_asset_lookup l = {NULL, NULL, NULL, g, 2, "test assets", "Give them with -x."};
    struct lkb_assets a;
    struct lkb_disk_error err;
    cr_assert_eq(lkb_assets_find(&l, wants, 3, &a, &err), -1);
    char want[4096];
    snprintf(want, sizeof want,
             "missing test assets:\n  boot.bin (looked at %s/nowhere/boot.bin)\n"
             "  loader.bin (looked at %s/def1/loader.bin, %s/fw/loader.bin)\nGive them with -x.",
             tl_tmpdir(), tl_tmpdir(), tl_tmpdir());
    cr_assert_str_eq(err.msg, want);
    cr_assert_null(a.items);
}

/* A stand-in host: serves "usr/lib/fw/boot.bin" of image "reg/assets:1". */
static char asked_path[256];
static int read_file(lkb_host *host, const char *image, const char *path, void **data,
                     size_t *size)
{
    (void)host;
    snprintf(asked_path, sizeof asked_path, "%s", path);
    if (strcmp(image, "reg/assets:1") || strcmp(path, "usr/lib/fw/boot.bin"))
        return LKB_FAIL;
    *data = strdup("FROMIMAGE");
    *size = 9;
    return LKB_OK;
}

Test(assets, an_image_through_the_host_table)
{
    struct lkb_host_api api = {.struct_size = sizeof api, .abi_version = 1,
                               .image_read_file = read_file, .free = free};
    struct lkb_asset_group g[2] = {{NULL, "usr/lib/fw", "/nonexistent"},
                                   {NULL, "/usr/lib/loader", NULL}};
    struct lkb_asset_lookup l = {&api, NULL, "reg/assets:1", g, 2, "test assets", NULL};
    struct lkb_assets a;
    struct lkb_disk_error err;
    cr_assert_eq(lkb_assets_find(&l, wants, 3, &a, &err), -1);
    cr_assert_str_eq(err.msg, "missing test assets:\n  loader.bin (looked at "
                              "/usr/lib/loader/loader.bin in image reg/assets:1)");
    cr_assert_str_eq(asked_path, "usr/lib/loader/loader.bin"); /* no leading slash */
    const struct lkb_asset_want one[] = {{"boot.bin", 0, 1}};
    cr_assert_eq(lkb_assets_find(&l, one, 1, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.n, 1);
    cr_assert(a.items[0].host_owned && a.items[0].size == 9);
    cr_assert_eq(memcmp(a.items[0].data, "FROMIMAGE", 9), 0);
    lkb_assets_free(&a);
}
