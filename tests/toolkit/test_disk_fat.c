/* FAT writer: images of each type checked by fsck.fat and mtools (listing,
 * long and UTF-8 names, every file's bytes copied back out), reproducibility,
 * size rules, and the failures: too small, bad names, a full disk, a file
 * that changes size. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lkb/disk/fat.h>
#include <lkb/disk/id.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_testlib.h"

#define MiB (UINT64_C(1) << 20)

static unsigned char big[300000];
static const char hello[] = "hello from lkb\n";

/* A tree with what FAT makes hard: long names, UTF-8, spaces, nested and
 * empty directories, an empty file, a directory spanning several clusters,
 * a host file. Mirrored on the host under tl_path("src") for comparing. */
static struct lkb_disk_tree *sample_tree(void)
{
    struct lkb_disk_error err;
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    cr_assert_not_null(t);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + i / 251);
    int st;
    free(tl_sh(&st, "mkdir -p %s/src/dir/sub %s/src/many %s/src/emptydir", tl_tmpdir(), tl_tmpdir(),
               tl_tmpdir()));
    tl_write(tl_path("src/dir/sub/deep.bin"), big, sizeof big);
    tl_write(tl_path("src/README.TXT"), hello, sizeof hello - 1);
    tl_write(tl_path("src/a long file name with spaces.txt"), "long\n", 5);
    tl_write(tl_path("src/Ünïcødé ✓.txt"), "utf8\n", 5);
    tl_write(tl_path("src/empty.txt"), "", 0);
    cr_assert_eq(lkb_disk_tree_add_data(t, "README.TXT", hello, sizeof hello - 1, &err), 0, "%s", err.msg);
    cr_assert_eq(lkb_disk_tree_add_data(t, "a long file name with spaces.txt", "long\n", 5, &err), 0);
    cr_assert_eq(lkb_disk_tree_add_data(t, "Ünïcødé ✓.txt", "utf8\n", 5, &err), 0);
    cr_assert_eq(lkb_disk_tree_add_data(t, "empty.txt", "", 0, &err), 0);
    cr_assert_eq(lkb_disk_tree_add_file(t, "dir/sub/deep.bin", tl_path("src/dir/sub/deep.bin"), &err),
                 0, "%s", err.msg);
    cr_assert_eq(lkb_disk_tree_add_dir(t, "emptydir", &err), 0);
    static char names[60][32];
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], sizeof names[i], "file number %02d.dat", i);
        char rel[64];
        snprintf(rel, sizeof rel, "many/%s", names[i]);
        cr_assert_eq(lkb_disk_tree_add_data(t, rel, names[i], strlen(names[i]), &err), 0);
        char src[80];
        snprintf(src, sizeof src, "src/%s", rel);
        tl_write(tl_path(src), names[i], strlen(names[i]));
    }
    return t;
}

static const char *sample_files[] = {
    "README.TXT", "a long file name with spaces.txt", "Ünïcødé ✓.txt", "empty.txt",
    "dir/sub/deep.bin", "many/file number 00.dat", "many/file number 59.dat",
};

/* fsck.fat, the type in the boot sector, mdir's listing, and mcopy of
 * every file compared with the source. */
static void check_image(const char *img_path, uint64_t offset, enum lkb_fat_type type)
{
    char img[1024]; /* tl_path's buffers are reused below */
    snprintf(img, sizeof img, "%s", img_path);
    int st;
    char *out = tl_sh(&st, "fsck.fat -n '%s'", img);
    cr_assert_eq(st, 0, "fsck.fat: %s", out);
    free(out);
    char magic[9] = {0};
    int fd = open(img, O_RDONLY);
    cr_assert_eq(pread(fd, magic, 8, (off_t)(offset + (type == LKB_FAT32 ? 82 : 54))), 8);
    close(fd);
    char want[9];
    snprintf(want, sizeof want, "FAT%-5d", (int)type);
    cr_assert_str_eq(magic, want);
    out = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mdir -i '%s' -/ -b ::/", img);
    cr_assert_eq(st, 0, "mdir: %s", out);
    for (size_t i = 0; i < sizeof sample_files / sizeof *sample_files; i++) {
        char line[256];
        snprintf(line, sizeof line, "::/%s\n", sample_files[i]);
        cr_assert_not_null(strstr(out, line), "%s not listed:\n%s", sample_files[i], out);
    }
    cr_assert_not_null(strstr(out, "::/emptydir/\n"), "%s", out);
    free(out);
    out = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mdir -i '%s' ::/", img);
    cr_assert_not_null(strstr(out, "Volume in drive : is LKBTEST"), "%s", out);
    free(out);
    for (size_t i = 0; i < sizeof sample_files / sizeof *sample_files; i++) {
        free(tl_sh(&st, "rm -f '%s'", tl_path("out")));
        char *o = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mcopy -n -i '%s' '::/%s' '%s'", img,
                        sample_files[i], tl_path("out"));
        cr_assert_eq(st, 0, "mcopy %s: %s", sample_files[i], o);
        free(o);
        char src[512];
        snprintf(src, sizeof src, "src/%s", sample_files[i]);
        cr_assert(tl_same_file(tl_path("out"), tl_path(src)), "%s differs", sample_files[i]);
    }
}

static void write_fs(const char *img, struct lkb_disk_tree *t, uint64_t bytes,
                     enum lkb_fat_type type, const char *seed)
{
    struct lkb_disk_error err;
    struct lkb_fat_opts o = {type, "LKBTEST", 0, seed, 0, 1700000000};
    int fd = tl_image(img, bytes);
    cr_assert_eq(lkb_fat_write(fd, 0, bytes, &o, t, &err), 0, "%s", err.msg);
    close(fd);
}

TestSuite(fat, .fini = tl_cleanup);

Test(fat, fat12)
{
    struct lkb_disk_tree *t = sample_tree();
    write_fs(tl_path("f12.img"), t, 4 * MiB, LKB_FAT12, "s");
    check_image(tl_path("f12.img"), 0, LKB_FAT12);
    lkb_disk_tree_free(t);
}

Test(fat, fat16)
{
    struct lkb_disk_tree *t = sample_tree();
    write_fs(tl_path("f16.img"), t, 32 * MiB, LKB_FAT16, "s");
    check_image(tl_path("f16.img"), 0, LKB_FAT16);
    lkb_disk_tree_free(t);
}

Test(fat, fat32_at_an_offset_in_a_bigger_file)
{
    struct lkb_disk_tree *t = sample_tree();
    struct lkb_disk_error err;
    struct lkb_fat_opts o = {LKB_FAT32, "LKBTEST", 0, "s", 2048, 0};
    int fd = tl_image(tl_path("disk.img"), 50 * MiB);
    cr_assert_eq(lkb_fat_write(fd, MiB, 48 * MiB, &o, t, &err), 0, "%s", err.msg);
    close(fd);
    int st;
    free(tl_sh(&st, "dd if='%s' of='%s' bs=1M skip=1 count=48 status=none", tl_path("disk.img"),
               tl_path("p.img")));
    check_image(tl_path("p.img"), 0, LKB_FAT32);
    char *out = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 minfo -i '%s' ::", tl_path("p.img"));
    cr_assert_not_null(strstr(out, "hidden sectors: 2048"), "%s", out);
    cr_assert_not_null(strstr(out, "disk label=\"LKBTEST    \""), "%s", out);
    free(out);
    lkb_disk_tree_free(t);
}

Test(fat, smallest_size_of_each_type_is_valid_and_auto_picks_by_size)
{
    struct lkb_disk_tree *t = sample_tree();
    struct lkb_disk_error err;
    const enum lkb_fat_type types[] = {LKB_FAT12, LKB_FAT16, LKB_FAT32, LKB_FAT_AUTO};
    for (size_t i = 0; i < 4; i++) {
        uint64_t min = 0;
        cr_assert_eq(lkb_fat_min_bytes(t, types[i], &min, &err), 0, "%s", err.msg);
        cr_assert_eq(min % MiB, 0);
        enum lkb_fat_type got = types[i] ? types[i] : lkb_fat_auto_type(min);
        write_fs(tl_path("min.img"), t, min, types[i], "s");
        check_image(tl_path("min.img"), 0, got);
        /* One MiB less does not hold it (or is not that type any more). */
        if (min > MiB) {
            struct lkb_fat_opts o = {types[i] ? types[i] : got, NULL, 0, NULL, 0, 0};
            int fd = tl_image(tl_path("less.img"), min - MiB);
            cr_assert_eq(lkb_fat_write(fd, 0, min - MiB, &o, t, &err), -1, "type %d", (int)got);
            close(fd);
        }
    }
    cr_assert_eq(lkb_fat_auto_type(4 * MiB), LKB_FAT12);
    cr_assert_eq(lkb_fat_auto_type(8 * MiB), LKB_FAT16);
    cr_assert_eq(lkb_fat_auto_type(511 * MiB), LKB_FAT16);
    cr_assert_eq(lkb_fat_auto_type(512 * MiB), LKB_FAT32);
    lkb_disk_tree_free(t);
}

Test(fat, same_tree_and_seed_give_the_same_bytes)
{
    struct lkb_disk_tree *t = sample_tree();
    write_fs(tl_path("a.img"), t, 40 * MiB, LKB_FAT32, "seed-1");
    write_fs(tl_path("b.img"), t, 40 * MiB, LKB_FAT32, "seed-1");
    write_fs(tl_path("c.img"), t, 40 * MiB, LKB_FAT32, "seed-2");
    cr_assert(tl_same_file(tl_path("a.img"), tl_path("b.img")));
    cr_assert_not(tl_same_file(tl_path("a.img"), tl_path("c.img")));
    /* The serial is the seeded id. */
    unsigned char s[4];
    int fd = open(tl_path("a.img"), O_RDONLY);
    cr_assert_eq(pread(fd, s, 4, 67), 4);
    close(fd);
    uint32_t serial = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
    cr_assert_eq(serial, lkb_disk_id32("seed-1", "fat-serial:LKBTEST"));
    lkb_disk_tree_free(t);
}

Test(fat, an_existing_host_directory)
{
    struct lkb_disk_tree *src = sample_tree(); /* creates src/ on the host */
    lkb_disk_tree_free(src);
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    struct lkb_disk_error err;
    cr_assert_eq(lkb_disk_tree_add_host_dir(t, "", tl_path("src"), &err), 0, "%s", err.msg);
    write_fs(tl_path("h.img"), t, 16 * MiB, LKB_FAT_AUTO, "s");
    check_image(tl_path("h.img"), 0, LKB_FAT16);
    lkb_disk_tree_free(t);
    /* A symlink cannot go into FAT. */
    int st;
    free(tl_sh(&st, "ln -s README.TXT '%s'", tl_path("src/link")));
    t = lkb_disk_tree_new();
    cr_assert_eq(lkb_disk_tree_add_host_dir(t, "", tl_path("src"), &err), -1);
    cr_assert_not_null(strstr(err.msg, "src/link: only regular files and directories"), "%s", err.msg);
    lkb_disk_tree_free(t);
}

Test(fat, too_small_is_an_error_with_the_numbers)
{
    struct lkb_disk_tree *t = sample_tree();
    struct lkb_disk_error err;
    struct lkb_fat_opts o = {LKB_FAT32, NULL, 0, NULL, 0, 0};
    int fd = tl_image(tl_path("s.img"), 16 * MiB);
    cr_assert_eq(lkb_fat_write(fd, 0, 16 * MiB, &o, t, &err), -1);
    cr_assert_str_eq(err.msg, "16777216 bytes is too small for FAT32");
    o.type = LKB_FAT12;
    cr_assert_eq(lkb_fat_write(fd, 0, MiB / 4, &o, t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "clusters of 512 bytes, a FAT12 file system of 262144 bytes has"),
                       "%s", err.msg);
    o.type = LKB_FAT16;
    cr_assert_eq(lkb_fat_write(fd, 0, 8 * MiB + 100, &o, t, &err), -1);
    cr_assert_str_eq(err.msg, "FAT file system size 8388708 is not a multiple of 512");
    close(fd);
    lkb_disk_tree_free(t);
}

Test(fat, names_fat_cannot_hold)
{
    const char *bad[][2] = {
        {"a:b.txt", "contains one of"},
        {"dir/x?.txt", "contains one of"},
        {"trailing.", "ends with a dot or a space"},
        {"bad\xff.txt", "is not valid UTF-8"},
    };
    struct lkb_disk_error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct lkb_disk_tree *t = lkb_disk_tree_new();
        cr_assert_eq(lkb_disk_tree_add_data(t, bad[i][0], "x", 1, &err), 0);
        uint64_t b;
        cr_assert_eq(lkb_fat_min_bytes(t, LKB_FAT_AUTO, &b, &err), -1, "%s", bad[i][0]);
        char want[128];
        snprintf(want, sizeof want, "\"%s\" cannot go into a FAT file system: the name %s",
                 bad[i][0], bad[i][1]);
        cr_assert_not_null(strstr(err.msg, want), "%s", err.msg);
        lkb_disk_tree_free(t);
    }
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    cr_assert_eq(lkb_disk_tree_add_data(t, "Boot.txt", "x", 1, &err), 0);
    cr_assert_eq(lkb_disk_tree_add_data(t, "BOOT.TXT", "x", 1, &err), 0);
    cr_assert_eq(lkb_disk_tree_add_data(t, "BOOT.TXT", "x", 1, &err), -1);
    cr_assert_str_eq(err.msg, "\"BOOT.TXT\" is in the file tree twice");
    int fd = tl_image(tl_path("n.img"), 4 * MiB);
    cr_assert_eq(lkb_fat_write(fd, 0, 4 * MiB, NULL, t, &err), -1);
    cr_assert_str_eq(err.msg, "\"BOOT.TXT\" cannot go into a FAT file system: the name differs "
                              "from another name only in case");
    close(fd);
    cr_assert_eq(lkb_disk_tree_add_data(t, "Boot.txt/x", "x", 1, &err), -1);
    cr_assert_str_eq(err.msg, "\"Boot.txt/x\": \"Boot.txt\" is a file, not a directory");
    cr_assert_eq(lkb_disk_tree_add_data(t, "a/../b", "x", 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "invalid path \"a/../b\""));
    struct lkb_fat_opts o = {LKB_FAT12, "A LABEL TOO LONG", 0, NULL, 0, 0};
    cr_assert_eq(lkb_fat_write(fd, 0, 4 * MiB, &o, t, &err), -1);
    cr_assert_str_eq(err.msg, "FAT volume label \"A LABEL TOO LONG\" is longer than 11 bytes");
    lkb_disk_tree_free(t);
}

Test(fat, a_full_disk_is_a_write_error)
{
    struct lkb_disk_tree *t = sample_tree();
    struct lkb_disk_error err;
    int fd = open("/dev/full", O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(lkb_fat_write(fd, 0, 4 * MiB, NULL, t, &err), -1);
    cr_assert_str_eq(err.msg, "writing the FAT12 file system: No space left on device");
    close(fd);
    lkb_disk_tree_free(t);
}

Test(fat, a_host_file_that_changes_size)
{
    struct lkb_disk_tree *t = sample_tree();
    struct lkb_disk_error err;
    tl_write(tl_path("src/dir/sub/deep.bin"), "shorter", 7);
    int fd = tl_image(tl_path("c.img"), 4 * MiB);
    cr_assert_eq(lkb_fat_write(fd, 0, 4 * MiB, NULL, t, &err), -1);
    cr_assert_not_null(strstr(err.msg, "deep.bin changed size while the image was written"), "%s",
                       err.msg);
    close(fd);
    lkb_disk_tree_free(t);
}

/* 5000 files in one directory: valid (fsck.fat is slow on more); 33000
 * (66000 entries with their long names) is over FAT's 65536 per directory,
 * and adding them stays fast (the tree is indexed). */
Test(fat, a_big_directory_and_the_entry_limit)
{
    static char names[33000][16];
    struct lkb_disk_error err;
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    for (int i = 0; i < 33000; i++) {
        snprintf(names[i], sizeof names[i], "d/f%05d.txt", i);
        cr_assert_eq(lkb_disk_tree_add_data(t, names[i], "x", 1, &err), 0, "%s", err.msg);
        if (i == 4999) {
            struct lkb_fat_opts o = {LKB_FAT32, "BIG", 0, "s", 0, 0};
            int fd = tl_image(tl_path("big.img"), 64 * MiB);
            cr_assert_eq(lkb_fat_write(fd, 0, 64 * MiB, &o, t, &err), 0, "%s", err.msg);
            close(fd);
            int st;
            char *out = tl_sh(&st, "fsck.fat -n '%s'", tl_path("big.img"));
            cr_assert_eq(st, 0, "%s", out);
            cr_assert_not_null(strstr(out, "5002 files"), "%s", out); /* + the label and d/ */
            free(out);
            out = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mdir -i '%s' -b ::/d | wc -l", tl_path("big.img"));
            cr_assert_eq(atoi(out), 5000, "%s", out);
            free(out);
        }
    }
    uint64_t b;
    cr_assert_eq(lkb_fat_min_bytes(t, LKB_FAT32, &b, &err), -1);
    cr_assert_str_eq(err.msg, "a directory has more than 65536 entries, FAT's limit");
    lkb_disk_tree_free(t);
}
