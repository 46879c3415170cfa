/* Formatted strings without silent truncation. A fixed-size buffer filled
 * by snprintf cuts a long path and the build goes on with a different
 * name (issue 15: two services sharing a 491-character prefix landed in
 * one directory; a long `files: source` named another file). Paths are
 * built with lkb_strf (malloc'd, any length); short texts that may stay
 * in a fixed buffer go through lkb_strf_buf, which fails on truncation. */
#ifndef LKB_UTIL_STR_H
#define LKB_UTIL_STR_H

#include <stddef.h>

#include "util/error.h"

/* printf into a malloc'd string; NULL only when out of memory. */
char *lkb_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf into buf[len]; -1 with an error naming the start of the text if
 * it does not fit (or out of memory in err). */
int lkb_strf_buf(char *buf, size_t len, struct lkb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
