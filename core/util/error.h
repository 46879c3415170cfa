/* Error object filled by every fallible lkb function.
 *
 * Library code never prints and never exits: it returns -1 (or another
 * negative status) and leaves a human-readable message here. The CLI decides
 * how to show it and which exit code to use (see docs/cli.md). */
#ifndef LKB_UTIL_ERROR_H
#define LKB_UTIL_ERROR_H

#include <stddef.h>

/* Error classes; each maps to one documented exit code. */
enum lkb_error_kind {
    LKB_ERR_NONE = 0,
    LKB_ERR_INTERNAL, /* bug or resource exhaustion */
    LKB_ERR_USAGE,    /* bad command line */
    LKB_ERR_CONFIG,   /* invalid YAML configuration */
    LKB_ERR_FETCH,    /* registry, network, cache */
    LKB_ERR_BUILD,    /* layer/rootfs/initrd/output */
    LKB_ERR_PLUGIN,   /* plugin refused or failed */
    LKB_ERR_IO,       /* local file system */
};

#define LKB_ERROR_MSG_MAX 4096

struct lkb_error {
    enum lkb_error_kind kind;
    char msg[LKB_ERROR_MSG_MAX];
};

/* Reset to "no error". */
void lkb_error_clear(struct lkb_error *err);

/* Set kind and message (printf-style). Always returns -1 so callers can
 * write `return lkb_error_set(err, ...);`. A NULL err is allowed. */
int lkb_error_set(struct lkb_error *err, enum lkb_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like lkb_error_set, appending ": strerror(errnum)". */
int lkb_error_errno(struct lkb_error *err, enum lkb_error_kind kind, int errnum, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* Prepend context ("fetching kernel: " + existing message). Keeps the kind.
 * Returns -1. */
int lkb_error_prefix(struct lkb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit code documented for an error kind. */
int lkb_error_exit_code(enum lkb_error_kind kind);

#endif
