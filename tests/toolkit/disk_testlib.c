#include "disk_testlib.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[512];

const char *tl_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/lkb-disk-test-XXXXXX", t && *t ? t : "/tmp");
        cr_assert_not_null(mkdtemp(tmpdir));
    }
    return tmpdir;
}

void tl_cleanup(void)
{
    if (tmpdir[0]) {
        int st;
        free(tl_sh(&st, "rm -rf '%s'", tmpdir));
        tmpdir[0] = '\0';
    }
}

const char *tl_path(const char *name)
{
    static char ring[16][1024];
    static int i;
    char *p = ring[i++ % 16];
    int n = snprintf(p, sizeof ring[0], "%s/%s", tl_tmpdir(), name);
    cr_assert(n > 0 && (size_t)n < sizeof ring[0]);
    return p;
}

void tl_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* All of a stream, NUL-terminated. */
static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t r; (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n < 2)
            cr_assert_not_null(buf = realloc(buf, cap *= 2));
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *tl_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = slurp(f, len);
    fclose(f);
    return buf;
}

int tl_image(const char *path, uint64_t bytes)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0, "%s", path);
    cr_assert_eq(ftruncate(fd, (off_t)bytes), 0);
    return fd;
}

int tl_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *da = tl_read(a, &la), *db = tl_read(b, &lb);
    int same = la == lb && memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return same;
}

char *tl_sh(int *status, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    cr_assert(n > 0 && (size_t)n < sizeof cmd - 8);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *out = slurp(p, NULL);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return out;
}
