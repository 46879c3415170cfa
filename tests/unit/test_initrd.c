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

static struct lkb_tree t;
static struct lkb_error err;
static char *dir;

static void init(void)
{
    lkb_tree_init(&t, 1492533000);
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-initrd", &dir, &err), 0, "%s", err.msg);
}

static void fini(void)
{
    lkb_tree_free(&t);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

TestSuite(initrd, .init = init, .fini = fini);

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
