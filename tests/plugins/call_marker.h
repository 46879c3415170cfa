/* Call detector for the refusal fixtures: every entry point of a fixture
 * appends its name to the file named by $LKB_TEST_CALL_MARKER, so a test
 * can assert what the host called (and that a refused plugin's formats
 * were never called). Plain POSIX: some fixtures do not include the SDK. */
#ifndef LKB_TEST_CALL_MARKER_H
#define LKB_TEST_CALL_MARKER_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void lkb_test_mark(const char *what)
{
    const char *path = getenv("LKB_TEST_CALL_MARKER");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t n = strlen(what);
    if (write(fd, what, n) == (ssize_t)n)
        (void)!write(fd, "\n", 1);
    close(fd);
}

/* A format's build and check that only record their call (for fixtures
 * that include <lkb/plugin.h>). */
#define LKB_TEST_MARKED_CALLBACKS(tag)                                                         \
    static int build(const struct lkb_host_api *a, lkb_host *h, const struct lkb_build_input *i) \
    {                                                                                          \
        (void)a, (void)h, (void)i;                                                             \
        lkb_test_mark(tag " build");                                                           \
        return LKB_OK;                                                                         \
    }                                                                                          \
    static int check(const struct lkb_host_api *a, lkb_host *h, const struct lkb_build_input *i) \
    {                                                                                          \
        (void)a, (void)h, (void)i;                                                             \
        lkb_test_mark(tag " check");                                                           \
        return LKB_OK;                                                                         \
    }

#endif
