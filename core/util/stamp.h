/* Stat stamps: a small file recording another file's size, device, inode,
 * mtime and ctime at the moment its content was checked (hashed). While
 * they still match, the content is taken as checked without reading it:
 * any write, truncation or replacement changes one of them. What a stamp
 * cannot see (a disk corrupting blocks behind the file system's back) is
 * left to `lkb cache verify`, which hashes everything. */
#ifndef LKB_UTIL_STAMP_H
#define LKB_UTIL_STAMP_H

#include <stdbool.h>

#include "util/error.h"

/* Whether stamp_path records path as it is now. */
bool lkb_stamp_matches(const char *path, const char *stamp_path);
/* Record path as it is now (a ".tmp-" file in stamp_path's directory, renamed;
 * not synced: a stamp lost in a crash only costs one more hash). */
int lkb_stamp_write(const char *path, const char *stamp_path, struct lkb_error *err);

#endif
