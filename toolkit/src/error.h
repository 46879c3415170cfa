/* Filling struct lkb_disk_error (internal to the toolkit). */
#ifndef LKB_DISK_SRC_ERROR_H
#define LKB_DISK_SRC_ERROR_H

#include <lkb/disk/error.h>

/* Set the message (printf-style); returns -1. A NULL err is allowed. */
int disk_error(struct lkb_disk_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like disk_error, appending ": strerror(errnum)". */
int disk_errno(struct lkb_disk_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("making X: " + the message); returns -1. */
int disk_prefix(struct lkb_disk_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write all of buf at off (retrying short writes and EINTR); -1 + errno. */
int disk_pwrite_all(int fd, const void *buf, size_t len, unsigned long long off);

#endif
