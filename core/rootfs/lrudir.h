/* A cache directory bounded by size, least recently used first: the
 * initrd segments (CACHE/segments) and the unpacked layers
 * (CACHE/unpacked). An entry is every file whose name starts with the same
 * text before the first '.' ("<key>" and "<key>.ok" are one entry), its
 * size their sum and its last use their newest mtime; names starting with
 * '.' are writers' temporary files. */
#ifndef LKB_ROOTFS_LRUDIR_H
#define LKB_ROOTFS_LRUDIR_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Remove the least recently used entries of dir until at most max_bytes
 * remain; temporary files older than an hour go too. A missing dir is
 * fine. */
int lkb_lrudir_trim(const char *dir, uint64_t max_bytes, struct lkb_error *err);

/* max_bytes from the environment variable env (bytes), else dflt. */
uint64_t lkb_lrudir_bound(const char *env, uint64_t dflt);

/* Remove dir and everything in it; counts the entries and bytes that
 * went. */
int lkb_lrudir_clean(const char *dir, size_t *n, uint64_t *bytes, struct lkb_error *err);

#endif
