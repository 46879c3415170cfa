/* ext4 through mke2fs -d: e2fsck accepts it, debugfs reads the files back,
 * label and seeded UUID, the same bytes for the same tree (even created in
 * another order), a region inside a bigger image, and the failures: no
 * mke2fs, too small, contents that do not fit. */
#include <criterion/criterion.h>
#include <lkb/disk/ext4.h>
#include <lkb/disk/id.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_testlib.h"

#define MiB (UINT64_C(1) << 20)

TestSuite(ext4, .fini = tl_cleanup);

/* A tree with fixed mtimes, files created in the given order. */
static void make_tree(const char *dir, int reverse)
{
    int st;
    const char *a = reverse ? "b" : "a", *b = reverse ? "a" : "b";
    char *out = tl_sh(&st,
                      "set -e; mkdir -p %s/etc %s/data; echo %s > %s/data/%s.txt; "
                      "echo %s > %s/data/%s.txt; printf 'hostname lkb\\n' > %s/etc/hostname; "
                      "find %s -exec touch -h -d @1700000000 {} +",
                      dir, dir, a, dir, a, b, dir, b, dir, dir);
    cr_assert_eq(st, 0, "%s", out);
    free(out);
}

static void write_img(const char *img, uint64_t bytes, const char *src, const char *seed)
{
    struct lkb_disk_error err;
    close(tl_image(img, bytes));
    struct lkb_ext4_opts o = {src, "lkb-test", seed, 1700000000, 0, NULL};
    cr_assert_eq(lkb_ext4_write(img, 0, bytes, &o, &err), 0, "%s", err.msg);
}

Test(ext4, e2fsck_and_debugfs_read_it)
{
    make_tree(tl_path("t"), 0);
    write_img(tl_path("e.img"), 16 * MiB, tl_path("t"), "ext-seed");
    int st;
    char *out = tl_sh(&st, "e2fsck -fn '%s'", tl_path("e.img"));
    cr_assert_eq(st, 0, "%s", out);
    free(out);
    out = tl_sh(&st, "debugfs -R 'cat /etc/hostname' '%s'", tl_path("e.img"));
    cr_assert_not_null(strstr(out, "\nhostname lkb\n"), "%s", out);
    free(out);
    out = tl_sh(&st, "blkid -o export '%s'", tl_path("e.img"));
    char uuid[LKB_DISK_GUID_LEN], want[80];
    lkb_disk_guid("ext-seed", "ext4-uuid", uuid);
    snprintf(want, sizeof want, "UUID=%s\n", uuid);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, "LABEL=lkb-test\n"), "%s", out);
    cr_assert_not_null(strstr(out, "TYPE=ext4\n"), "%s", out);
    free(out);
    /* The root directory is root's, whoever built it. */
    out = tl_sh(&st, "debugfs -R 'stat /' '%s' 2>&1 | grep -o 'User: *[0-9]*'", tl_path("e.img"));
    cr_assert_not_null(strstr(out, "User:     0"), "%s", out);
    free(out);
}

Test(ext4, reproducible_whatever_the_creation_order)
{
    make_tree(tl_path("t1"), 0);
    make_tree(tl_path("t2"), 1);
    write_img(tl_path("a.img"), 8 * MiB, tl_path("t1"), "s");
    write_img(tl_path("b.img"), 8 * MiB, tl_path("t2"), "s");
    cr_assert(tl_same_file(tl_path("a.img"), tl_path("b.img")));
    write_img(tl_path("c.img"), 8 * MiB, tl_path("t1"), "other");
    cr_assert_not(tl_same_file(tl_path("a.img"), tl_path("c.img")));
}

Test(ext4, a_region_of_a_bigger_image)
{
    make_tree(tl_path("t"), 0);
    struct lkb_disk_error err;
    close(tl_image(tl_path("d.img"), 20 * MiB));
    int st;
    /* Something before the region must survive. */
    free(tl_sh(&st, "printf MARK | dd of='%s' conv=notrunc status=none", tl_path("d.img")));
    struct lkb_ext4_opts o = {tl_path("t"), NULL, "s", 0, 0, NULL};
    cr_assert_eq(lkb_ext4_write(tl_path("d.img"), 4 * MiB, 16 * MiB, &o, &err), 0, "%s", err.msg);
    char *out = tl_sh(&st, "head -c 4 '%s'", tl_path("d.img"));
    cr_assert_str_eq(out, "MARK");
    free(out);
    free(tl_sh(&st, "dd if='%s' of='%s' bs=1M skip=4 status=none", tl_path("d.img"),
               tl_path("p.img")));
    out = tl_sh(&st, "e2fsck -fn '%s'", tl_path("p.img"));
    cr_assert_eq(st, 0, "%s", out);
    free(out);
    /* The region must fit in the file. */
    cr_assert_eq(lkb_ext4_write(tl_path("d.img"), 8 * MiB, 16 * MiB, &o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "d.img is 20971520 bytes, the ext4 region ends at 25165824"),
                       "%s", err.msg);
}

Test(ext4, failures_carry_the_reason)
{
    struct lkb_disk_error err;
    close(tl_image(tl_path("f.img"), 8 * MiB));
    struct lkb_ext4_opts o = {NULL, NULL, "s", 0, 0, "/nonexistent"};
    cr_assert_eq(lkb_ext4_write(tl_path("f.img"), 0, 8 * MiB, &o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "mke2fs not found (searched /nonexistent): install the "
                                       "Debian package e2fsprogs"),
                       "%s", err.msg);
    /* Too small: mke2fs's own words come through. */
    o.path = NULL;
    cr_assert_eq(lkb_ext4_write(tl_path("f.img"), 0, 8192, &o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "making the ext4 file system in"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "mke2fs failed (exit status 1): "), "%s", err.msg);
    /* Contents larger than the file system. */
    int st;
    free(tl_sh(&st, "mkdir -p %s/big && head -c 3000000 /dev/urandom > %s/big/blob", tl_tmpdir(),
               tl_tmpdir()));
    o.source_dir = tl_path("big");
    cr_assert_eq(lkb_ext4_write(tl_path("f.img"), 0, 2 * MiB, &o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "mke2fs failed"), "%s", err.msg);
    o.source_dir = tl_path("missing");
    cr_assert_eq(lkb_ext4_write(tl_path("f.img"), 0, 2 * MiB, &o, &err), -1);
    cr_assert_not_null(strstr(err.msg, "missing: not a directory"), "%s", err.msg);
}
