#define _GNU_SOURCE
/* The initrd and tar writers: the root entry "." first (issue 19), every
 * compression readable, write failures (full disk) clean and without a
 * crash, files of 2 GiB and more. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "initrd/initrd.h"
#include "rootfs/archive_out.h"
#include "rootfs/layer.h"
#include "rootfs/tree.h"
#include "util/fs.h"

#include "tree_fixture.h"

TestSuite(initrd, .init = tree_fixture_init, .fini = tree_fixture_fini);

static void add_sample(void)
{
    cr_assert_eq(lkb_tree_add_file(&t, "init", "#!/bin/sh\n", 10, 0755, 0, 0, 5, &err), 0);
    cr_assert_eq(lkb_tree_add_dir(&t, "etc", 0700, 0, 0, 5, &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "boot/kernel", "K", 1, 0644, 0, 0, 5, &err), 0);
}

static char *path_in_dir(const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* The first entry of any archive file libarchive reads (all filters,
 * lz4 legacy included). */
static void first_entry(const char *path, char *name, size_t name_len, mode_t *mode,
                        int64_t *uid, int64_t *gid, time_t *mtime)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    cr_assert_eq(archive_read_open_filename(a, path, 65536), ARCHIVE_OK, "%s",
                 archive_error_string(a));
    struct archive_entry *e;
    cr_assert_eq(archive_read_next_header(a, &e), ARCHIVE_OK, "%s", archive_error_string(a));
    snprintf(name, name_len, "%s", archive_entry_pathname(e));
    *mode = archive_entry_mode(e);
    *uid = archive_entry_uid(e);
    *gid = archive_entry_gid(e);
    *mtime = archive_entry_mtime(e);
    archive_read_free(a);
}

static void assert_root_first(const char *path, mode_t want_mode, int64_t want_mtime)
{
    char name[64];
    mode_t mode;
    int64_t uid, gid;
    time_t mtime;
    first_entry(path, name, sizeof name, &mode, &uid, &gid, &mtime);
    cr_assert(strcmp(name, ".") == 0 || strcmp(name, "./") == 0, "first entry is %s", name);
    cr_assert_eq(mode, S_IFDIR | want_mode, "root mode %o", (unsigned)mode);
    cr_assert_eq(uid, 0);
    cr_assert_eq(gid, 0);
    cr_assert_eq((int64_t)mtime, want_mtime);
}

Test(initrd, every_compression_starts_with_a_0755_root_entry)
{
    add_sample();
    static const char *const comps[] = {"gzip", "zstd", "lz4", "none"};
    for (size_t i = 0; i < 4; i++) {
        enum lkb_initrd_compression c;
        cr_assert_eq(lkb_initrd_compression_parse(comps[i], &c, &err), 0);
        char *p = path_in_dir(comps[i]);
        cr_assert_eq(lkb_initrd_write(&t, p, c, NULL, 0, -1, &err), 0, "%s", err.msg);
        assert_root_first(p, 0755, 1492533000);
        free(p);
    }
}

Test(initrd, mtime_clamp_applies_to_the_root_entry)
{
    add_sample();
    char *p = path_in_dir("clamped");
    cr_assert_eq(lkb_initrd_write(&t, p, LKB_INITRD_NONE, NULL, 0, 86400, &err), 0);
    assert_root_first(p, 0755, 86400);
    free(p);
}

/* A "./" entry in a layer (kernel.tar, an init image) sets the root's
 * mode, as it does in LinuxKit; the last one wins. */
Test(initrd, an_image_root_entry_sets_the_mode)
{
    for (int round = 0; round < 2; round++) {
        char buf[8192];
        size_t used;
        struct archive *w = archive_write_new();
        archive_write_set_format_pax_restricted(w);
        cr_assert_eq(archive_write_open_memory(w, buf, sizeof buf, &used), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "./");
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, round ? 0711 : 0700);
        archive_entry_set_mtime(e, 77, 0);
        cr_assert_eq(archive_write_header(w, e), ARCHIVE_OK);
        archive_entry_free(e);
        archive_write_close(w);
        archive_write_free(w);
        struct archive *a = archive_read_new();
        archive_read_support_format_all(a);
        cr_assert_eq(archive_read_open_memory(a, buf, used), ARCHIVE_OK);
        cr_assert_eq(lkb_layer_apply(&t, a, "sha256:root", &err), 0, "%s", err.msg);
        archive_read_free(a);
    }
    add_sample();
    char *p = path_in_dir("explicit");
    cr_assert_eq(lkb_initrd_write(&t, p, LKB_INITRD_GZIP, NULL, 0, -1, &err), 0);
    assert_root_first(p, 0711, 77);
    free(p);
}

Test(initrd, tar_output_starts_with_the_root_entry_unless_omitted)
{
    add_sample();
    for (int omit = 0; omit < 2; omit++) {
        t.root.omit = omit;
        char *p = path_in_dir(omit ? "omit.tar" : "root.tar");
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        cr_assert_eq(archive_write_open_fd(a, fd), ARCHIVE_OK);
        cr_assert_eq(lkb_tree_write_archive(&t, a, NULL, NULL, -1, &err), 0, "%s", err.msg);
        archive_write_close(a);
        archive_write_free(a);
        close(fd);
        if (!omit) {
            assert_root_first(p, 0755, 1492533000);
        } else {
            char name[64];
            mode_t mode;
            int64_t uid, gid;
            time_t mtime;
            first_entry(p, name, sizeof name, &mode, &uid, &gid, &mtime);
            cr_assert_str_eq(name, "init");
        }
        free(p);
    }
}

static size_t count_entries(const char *d, const char *needle)
{
    size_t n = 0;
    DIR *dp = opendir(d);
    cr_assert_not_null(dp);
    for (struct dirent *de; (de = readdir(dp));)
        n += strstr(de->d_name, needle) != NULL;
    closedir(dp);
    return n;
}

/* Issue 15 item 1: a write failure in the middle of a gzip or lz4 initrd
 * crashed (the compressor was freed before libarchive flushed through it)
 * and left the temporary file. A file size limit plays the full disk. */
Test(initrd, write_failure_is_an_error_not_a_crash, .timeout = 60)
{
    size_t big = 8u << 20;
    unsigned char *noise = malloc(big);
    cr_assert_not_null(noise);
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (unsigned char)(x >> 23);
    }
    cr_assert_eq(lkb_tree_add_file(&t, "noise", noise, big, 0644, 0, 0, 0, &err), 0);
    free(noise);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1 << 20, 1 << 20};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    static const enum lkb_initrd_compression comps[] = {LKB_INITRD_GZIP, LKB_INITRD_LZ4,
                                                         LKB_INITRD_ZSTD, LKB_INITRD_NONE};
    for (size_t i = 0; i < 4; i++) {
        char *p = path_in_dir("full.img");
        lkb_error_clear(&err);
        cr_assert_eq(lkb_initrd_write(&t, p, comps[i], NULL, 0, -1, &err), -1,
                     "compression %zu succeeded past the limit", i);
        cr_assert(strstr(err.msg, "full.img"), "error does not name the file: %s", err.msg);
        cr_assert_eq(access(p, F_OK), -1, "partial initrd left behind");
        cr_assert_eq(count_entries(dir, ".tmp-"), 0, "temporary file left behind");
        free(p);
    }
}

/* Counts what a writer produces without storing it. */
static la_ssize_t count_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    (void)a, (void)buf;
    *(uint64_t *)ctx += len;
    return (la_ssize_t)len;
}

/* Issue 15 item 2: archive_write_data() takes at most INT_MAX bytes per
 * call. A 2 GiB + 1 MiB file of zeros, mapped without memory behind it. */
Test(initrd, files_of_2_gib_and_more_are_written_whole, .timeout = 120)
{
    size_t size = (2ull << 30) + (1u << 20);
    void *zeros = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert_neq(zeros, MAP_FAILED);
    cr_assert_eq(lkb_tree_add_file(&t, "small", "s", 1, 0644, 0, 0, 0, &err), 0);
    struct lkb_node *n = lkb_tree_get(&t, "small");
    unsigned char *own = n->blob->data;
    n->blob->data = zeros;
    n->blob->size = size;
    for (int tar = 0; tar < 2; tar++) {
        uint64_t total = 0;
        struct archive *a = archive_write_new();
        if (tar)
            archive_write_set_format_pax_restricted(a);
        else
            archive_write_set_format_cpio_newc(a);
        archive_write_set_bytes_in_last_block(a, 1);
        cr_assert_eq(archive_write_open2(a, &total, NULL, count_cb, NULL, NULL), ARCHIVE_OK);
        cr_assert_eq(lkb_tree_write_archive(&t, a, NULL, NULL, -1, &err), 0, "%s", err.msg);
        cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        cr_assert_geq(total, (uint64_t)size, "%s: only %llu bytes", tar ? "tar" : "cpio",
                      (unsigned long long)total);
    }
    n->blob->data = own;
    n->blob->size = 1;
    munmap(zeros, size);
}
