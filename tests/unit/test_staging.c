/* Staged outputs: committed together by rename, or not at all. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/staging.h"
#include "util/fs.h"

static char *dir;
static struct lkb_error err;

static void setup(void)
{
    lkb_error_clear(&err);
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-staging-test", &dir, &err), 0, "%s", err.msg);
}
static void teardown(void)
{
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}
TestSuite(staging, .init = setup, .fini = teardown);

static void put(const char *d, const char *name, const char *text)
{
    char *p = lkb_fs_join(d, name);
    cr_assert_eq(lkb_fs_write_atomic(p, text, strlen(text), 0644, &err), 0, "%s", err.msg);
    free(p);
}

static char *get(const char *name)
{
    char *p = lkb_fs_join(dir, name), *data = NULL;
    size_t len;
    struct lkb_error e;
    if (lkb_fs_read_file(p, &data, &len, &e) < 0)
        data = NULL;
    free(p);
    return data;
}

static size_t entries(const char *d)
{
    DIR *h = opendir(d);
    size_t n = 0;
    struct dirent *de;
    while (h && (de = readdir(h)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (h)
        closedir(h);
    return n;
}

Test(staging, commit_moves_every_output_and_removes_the_stage)
{
    char *stage;
    put(dir, "x.img", "old");
    cr_assert_eq(lkb_staging_create(dir, &stage, &err), 0, "%s", err.msg);
    cr_assert(strstr(stage, "/.lkb-staging-"), "%s", stage);
    put(stage, "x.img", "new");
    put(stage, "x.tar", "tar");
    cr_assert_eq(lkb_staging_commit(stage, dir, &err), 0, "%s", err.msg);
    char *a = get("x.img"), *b = get("x.tar");
    cr_assert_str_eq(a, "new");
    cr_assert_str_eq(b, "tar");
    free(a), free(b);
    struct stat st;
    cr_assert_eq(stat(stage, &st), -1, "stage %s left behind", stage);
    cr_assert_eq(entries(dir), 2);
    free(stage);
}

Test(staging, a_directory_output_never_replaces_anything_and_nothing_moves)
{
    char *stage, *sub = lkb_fs_join(dir, "out");
    cr_assert_eq(lkb_fs_mkdir_p(sub, 0755, &err), 0);
    cr_assert_eq(lkb_staging_create(dir, &stage, &err), 0, "%s", err.msg);
    put(stage, "a.img", "a");
    char *ssub = lkb_fs_join(stage, "out");
    cr_assert_eq(lkb_fs_mkdir_p(ssub, 0755, &err), 0);
    cr_assert_eq(lkb_staging_commit(stage, dir, &err), -1);
    cr_assert(strstr(err.msg, "a directory cannot replace"), "%s", err.msg);
    cr_assert_null(get("a.img"), "a.img committed although the commit failed");
    cr_assert_eq(entries(dir), 1, "only the old directory remains");
    free(ssub), free(sub), free(stage);
}

Test(staging, discard_removes_everything)
{
    char *stage;
    cr_assert_eq(lkb_staging_create(dir, &stage, &err), 0, "%s", err.msg);
    put(stage, "a.img", "a");
    lkb_staging_discard(stage);
    cr_assert_eq(entries(dir), 0);
    free(stage);
}

Test(staging, unwritable_directory_is_an_io_error)
{
    char *stage = NULL;
    cr_assert_eq(lkb_staging_create("/nonexistent/lkb", &stage, &err), -1);
    cr_assert_eq(err.kind, LKB_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/lkb"), "%s", err.msg);
    cr_assert_null(stage);
}
