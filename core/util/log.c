#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum lkb_log_level g_level = LKB_LOG_INFO;

void lkb_log_set_level(enum lkb_log_level level) { g_level = level; }

enum lkb_log_level lkb_log_get_level(void) { return g_level; }

void lkb_log(enum lkb_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", ""};
    fputs(prefix[level], stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double lkb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
