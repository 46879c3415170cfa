/* The fixture test_initrd.c and test_initrd_segments.c share: per test an
 * empty tree (mtime LinuxKit's default) in t and a fresh temporary
 * directory in dir. Static, as Criterion's .init/.fini take no argument:
 * each test executable includes this once. */
#ifndef LKB_TEST_TREE_FIXTURE_H
#define LKB_TEST_TREE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "rootfs/tree.h"
#include "util/error.h"
#include "util/fs.h"

static struct lkb_tree t;
static struct lkb_error err;
static char *dir;

static void tree_fixture_init(void)
{
    lkb_tree_init(&t, 1492533000);
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-initrd", &dir, &err), 0, "%s", err.msg);
}

static void tree_fixture_fini(void)
{
    lkb_tree_free(&t);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

#endif
