/* ext4 file systems from a directory tree, without root: e2fsprogs'
 * `mke2fs -d` run through lkb_run (fixed environment, stderr in the error),
 * with the UUID and directory hash seed derived from a seed and the
 * creation time from SOURCE_DATE_EPOCH (E2FSPROGS_FAKE_TIME), so the same
 * tree gives the same bytes.
 *
 * Files keep their host owner, mode and mtime (mke2fs -d copies them);
 * for reproducible images give a tree with fixed mtimes. e2fsprogs 1.47.0
 * (Debian 12) cannot read a tar with -d; owners other than the builder's
 * need a later e2fsprogs or libext2fs. */
#ifndef LKB_DISK_EXT4_H
#define LKB_DISK_EXT4_H

#include <lkb/disk/error.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lkb_ext4_opts {
    const char *source_dir; /* contents; NULL = an empty file system */
    const char *label;      /* up to 16 bytes; NULL = none */
    const char *seed;       /* UUID and hash seed: lkb_disk_guid(seed, "ext4-uuid"/"ext4-hash") */
    int64_t mtime;          /* SOURCE_DATE_EPOCH: the file system's own timestamps */
    uint32_t block_size;    /* 0 = 4096 */
    const char *path;       /* search path for mke2fs (lkb_run_opts.path); NULL = default */
};

/* Make the file system in `bytes` (a multiple of the block size) at byte
 * `offset` of the existing file image_path (which must already be at least
 * offset + bytes long). */
int lkb_ext4_write(const char *image_path, uint64_t offset, uint64_t bytes,
                   const struct lkb_ext4_opts *opts, struct lkb_disk_error *err);

#ifdef __cplusplus
}
#endif

#endif
