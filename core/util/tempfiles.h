/* Temporaries that outlive nothing: every temporary directory and
 * not-yet-committed output lkb creates is registered here. On SIGINT or
 * SIGTERM they are removed before the process dies of the signal; after a
 * SIGKILL or a crash, the next lkb run removes the ones whose owner is
 * gone (their names carry the owner's pid). */
#ifndef LKB_UTIL_TEMPFILES_H
#define LKB_UTIL_TEMPFILES_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"

/* Catch SIGINT, SIGTERM and SIGHUP: a thread then removes the registered
 * temporaries and the process dies of the same signal. Call once, early in
 * main. */
int lkb_temp_install_signal_cleanup(struct lkb_error *err);

/* Register or forget a temporary (is_dir: removed recursively). */
void lkb_temp_register(const char *path, bool is_dir);
void lkb_temp_forget(const char *path);
/* Whether path lies inside a registered temporary directory (a build's
 * scratch or staging directory). */
bool lkb_temp_inside(const char *path);

/* Temporaries carry "<pid>-" right after their fixed prefix so a later run
 * can tell orphans from files of running builds. */
bool lkb_temp_owner_dead(const char *pid_text);

/* Remove entries of dir named PREFIX<pid>-... whose owner is dead and
 * which belong to this user. Errors are ignored (best effort). */
void lkb_temp_remove_stale(const char *dir, const char *prefix);

#endif
