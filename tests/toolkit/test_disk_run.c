/* The tool runner: fixed environment, captured stderr, exit statuses and
 * signals in the message, a missing tool naming its package, stdout to a
 * file, and no deadlock on a tool that writes a lot to stderr. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lkb/disk/run.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_testlib.h"

TestSuite(run, .fini = tl_cleanup);

static struct lkb_run_opts opts(void)
{
    return (struct lkb_run_opts){"dash", -1, NULL, NULL, -1};
}

Test(run, success_and_failure_with_stderr)
{
    struct lkb_disk_error err;
    struct lkb_run_opts o = opts();
    const char *ok[] = {"true", NULL};
    cr_assert_eq(lkb_run(ok, &o, &err), 0, "%s", err.msg);
    const char *bad[] = {"sh", "-c", "echo 'mke2fs: Device size reported to be zero' >&2; exit 3", NULL};
    cr_assert_eq(lkb_run(bad, &o, &err), -1);
    cr_assert_str_eq(err.msg, "sh failed (exit status 3): mke2fs: Device size reported to be zero");
    const char *quiet[] = {"false", NULL};
    cr_assert_eq(lkb_run(quiet, &o, &err), -1);
    cr_assert_str_eq(err.msg, "false failed (exit status 1)");
    const char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
    cr_assert_eq(lkb_run(killed, &o, &err), -1);
    cr_assert_str_eq(err.msg, "sh failed (killed by signal 9)");
}

Test(run, the_environment_is_fixed)
{
    struct lkb_disk_error err;
    setenv("LKB_TEST_LEAK", "secret", 1);
    setenv("LANG", "de_DE.UTF-8", 1);
    int out = open(tl_path("env.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(out >= 0);
    const char *extra[] = {"E2FSPROGS_FAKE_TIME=42", NULL};
    struct lkb_run_opts o = {"coreutils", 1700000000, extra, NULL, out};
    const char *argv[] = {"env", NULL};
    cr_assert_eq(lkb_run(argv, &o, &err), 0, "%s", err.msg);
    close(out);
    char *env = tl_read(tl_path("env.txt"), NULL);
    cr_assert_not_null(strstr(env, "SOURCE_DATE_EPOCH=1700000000\n"), "%s", env);
    cr_assert_not_null(strstr(env, "LC_ALL=C\n"), "%s", env);
    cr_assert_not_null(strstr(env, "TZ=UTC\n"), "%s", env);
    cr_assert_not_null(strstr(env, "E2FSPROGS_FAKE_TIME=42\n"), "%s", env);
    cr_assert_not_null(strstr(env, "PATH="), "%s", env);
    cr_assert_null(strstr(env, "LKB_TEST_LEAK"), "%s", env);
    cr_assert_null(strstr(env, "LANG="), "%s", env);
    size_t lines = 0;
    for (char *p = env; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 5, "%s", env);
    free(env);
    /* No SOURCE_DATE_EPOCH when the caller has none. */
    out = open(tl_path("env.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    o = (struct lkb_run_opts){"coreutils", -1, NULL, NULL, out};
    cr_assert_eq(lkb_run(argv, &o, &err), 0, "%s", err.msg);
    close(out);
    env = tl_read(tl_path("env.txt"), NULL);
    cr_assert_null(strstr(env, "SOURCE_DATE_EPOCH"), "%s", env);
    free(env);
}

Test(run, a_missing_tool_names_its_package)
{
    struct lkb_disk_error err;
    struct lkb_run_opts o = {"e2fsprogs", 0, NULL, "/nonexistent:/also-not", -1};
    const char *argv[] = {"mke2fs", "-q", NULL};
    cr_assert_eq(lkb_run(argv, &o, &err), -1);
    cr_assert_str_eq(err.msg, "mke2fs not found (searched /nonexistent:/also-not): install the "
                              "Debian package e2fsprogs");
    const char *abs[] = {"/nonexistent/tool", NULL};
    o.package = NULL;
    cr_assert_eq(lkb_run(abs, &o, &err), -1);
    cr_assert_str_eq(err.msg, "/nonexistent/tool not found (searched /nonexistent:/also-not)");
}

Test(run, lots_of_stderr_does_not_block_and_is_cut)
{
    struct lkb_disk_error err;
    struct lkb_run_opts o = opts();
    const char *argv[] = {"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 1", NULL};
    cr_assert_eq(lkb_run(argv, &o, &err), -1);
    cr_assert_eq(strncmp(err.msg, "sh failed (exit status 1): xxxx", 31), 0, "%.80s", err.msg);
    cr_assert_lt(strlen(err.msg), 2200);
}
