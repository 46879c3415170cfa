/* Running an external tool (mke2fs, mkfs.fat, qemu-img, xorriso, ...)
 * reproducibly: no shell, a fixed environment (LC_ALL=C, TZ=UTC,
 * SOURCE_DATE_EPOCH, PATH, plus what the caller adds; nothing else of the
 * caller's environment), stdin from /dev/null, stderr captured into the
 * error message. A tool that is not installed is an error naming the Debian
 * package that provides it. */
#ifndef LKB_DISK_RUN_H
#define LKB_DISK_RUN_H

#include <lkb/disk/error.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lkb_run_opts {
    /* Debian package providing argv[0], named when it is missing. */
    const char *package;
    /* SOURCE_DATE_EPOCH for the tool; < 0 leaves it unset. */
    int64_t source_date_epoch;
    /* Extra "NAME=VALUE" entries, NULL-terminated (or NULL). */
    const char *const *env;
    /* Search path for argv[0] (when it has no '/'); NULL = the caller's
     * PATH followed by /usr/sbin:/sbin (where mke2fs lives). */
    const char *path;
    /* Where the tool's stdout goes: a file descriptor, or -1 for
     * /dev/null. */
    int stdout_fd;
};

/* Run argv (NULL-terminated) and wait. 0 when it exits with status 0;
 * otherwise -1 with "TOOL failed (exit status N): <its stderr>". */
int lkb_run(const char *const *argv, const struct lkb_run_opts *opts, struct lkb_disk_error *err);

#ifdef __cplusplus
}
#endif

#endif
