/* Formatted strings never silently cut (issue 15: fixed path buffers). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/str.h"

Test(util_str, strf_has_no_length_limit)
{
    char *big = malloc(100001);
    memset(big, 'a', 100000);
    big[100000] = '\0';
    char *s = lkb_strf("%s/%s", big, "leaf");
    cr_assert_eq(strlen(s), 100005);
    cr_assert_str_eq(s + 100000, "/leaf");
    free(s);
    free(big);
}

Test(util_str, strf_buf_fails_instead_of_truncating)
{
    char buf[8];
    struct lkb_error err = {0};
    cr_assert_eq(lkb_strf_buf(buf, sizeof buf, &err, "%s", "1234567"), 0);
    cr_assert_str_eq(buf, "1234567");
    cr_assert_eq(lkb_strf_buf(buf, sizeof buf, &err, "%s", "12345678"), -1);
    cr_assert(strstr(err.msg, "too long"), "%s", err.msg);
}

Test(util_str, temp_dir_under_a_long_tmpdir_is_not_cut)
{
    /* A TMPDIR longer than PATH_MAX names no directory: an error, where a
     * cut name could have pointed elsewhere. */
    char *base;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-str", &base, &err), 0);
    char *deep = lkb_strf("%s/%0*d", base, 5000, 0);
    setenv("TMPDIR", deep, 1);
    char *out = NULL;
    cr_assert_eq(lkb_fs_make_temp_dir("x", &out, &err), -1);
    cr_assert(strstr(err.msg, "creating temporary directory"), "%s", err.msg);
    unsetenv("TMPDIR");
    lkb_fs_remove_tree(base, &err);
    free(deep);
    free(base);
}

Test(util_str, reading_a_non_regular_file_is_refused)
{
    struct lkb_error err = {0};
    char *data;
    size_t len;
    cr_assert_eq(lkb_fs_read_file("/dev/zero", &data, &len, &err), -1);
    cr_assert(strstr(err.msg, "/dev/zero is not a regular file"), "%s", err.msg);
    cr_assert_eq(lkb_fs_read_file("/", &data, &len, &err), -1);
}
