#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

char *lkb_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int lkb_strf_buf(char *buf, size_t len, struct lkb_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        int shown = len > 64 ? 64 : (int)len;
        return lkb_error_set(err, LKB_ERR_INTERNAL, "name too long (%d bytes, at most %zu): %.*s…",
                             n, len ? len - 1 : 0, shown, buf);
    }
    return 0;
}
