#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int disk_error(struct lkb_disk_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int disk_errno(struct lkb_disk_error *err, int errnum, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errnum));
    }
    return -1;
}

int disk_pwrite_all(int fd, const void *buf, size_t len, unsigned long long off)
{
    const char *p = buf;
    while (len) {
        ssize_t r = pwrite(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += r;
        len -= (size_t)r;
        off += (unsigned long long)r;
    }
    return 0;
}

int disk_prefix(struct lkb_disk_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char pre[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    size_t pl = strnlen(pre, sizeof pre - 1), ml = strlen(err->msg);
    if (pl + ml >= sizeof err->msg)
        ml = sizeof err->msg - 1 - pl;
    memmove(err->msg + pl, err->msg, ml);
    memcpy(err->msg, pre, pl);
    err->msg[pl + ml] = '\0';
    return -1;
}
