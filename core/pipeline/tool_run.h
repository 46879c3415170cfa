/* Running the external file-system builders of the built-in formats
 * (mksquashfs, mkfs.erofs, and tar under fakeroot): no shell, stdin and
 * stdout on /dev/null, a small fixed environment, stderr captured into the
 * error message. A missing tool is an error naming its Debian package. */
#ifndef LKB_PIPELINE_TOOL_RUN_H
#define LKB_PIPELINE_TOOL_RUN_H

#include "util/error.h"

/* argv NULL-terminated; env: extra "NAME=VALUE" entries, NULL-terminated
 * (or NULL); package: what provides argv[0]. */
int lkb_tool_run(const char *const *argv, const char *const *env, const char *package,
                 struct lkb_error *err);

#endif
