#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lkb_error_clear(struct lkb_error *err)
{
    if (!err)
        return;
    err->kind = LKB_ERR_NONE;
    err->msg[0] = '\0';
}

static void set_va(struct lkb_error *err, enum lkb_error_kind kind, const char *fmt, va_list ap)
{
    err->kind = kind;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int lkb_error_set(struct lkb_error *err, enum lkb_error_kind kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    set_va(err, kind, fmt, ap);
    va_end(ap);
    return -1;
}

int lkb_error_errno(struct lkb_error *err, enum lkb_error_kind kind, int errnum, const char *fmt,
                    ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    set_va(err, kind, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
    return -1;
}

int lkb_error_prefix(struct lkb_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Shift the old message right, truncating its tail if it no longer fits. */
    size_t plen = strlen(prefix), olen = strlen(err->msg);
    if (plen > sizeof err->msg - 1)
        plen = sizeof err->msg - 1;
    if (plen + olen > sizeof err->msg - 1)
        olen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + olen] = '\0';
    if (err->kind == LKB_ERR_NONE)
        err->kind = LKB_ERR_INTERNAL;
    return -1;
}

int lkb_error_exit_code(enum lkb_error_kind kind)
{
    switch (kind) {
    case LKB_ERR_NONE:
        return 0;
    case LKB_ERR_USAGE:
        return 2;
    case LKB_ERR_CONFIG:
        return 3;
    case LKB_ERR_FETCH:
        return 4;
    case LKB_ERR_BUILD:
    case LKB_ERR_IO:
        return 5;
    case LKB_ERR_PLUGIN:
        return 6;
    case LKB_ERR_INTERNAL:
        break;
    }
    return 1;
}
