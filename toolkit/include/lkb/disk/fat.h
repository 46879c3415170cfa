/* FAT12/16/32 file system images from a file tree (lkb/disk/tree.h):
 * directories, long file names (UTF-8 in, UTF-16 on disk), contiguous
 * files, one fixed timestamp and a volume serial derived from a seed, so
 * the same tree always gives the same bytes. Written straight to a file
 * descriptor at an offset, a piece at a time: no image is held in memory.
 * Checked in the tests with fsck.fat and mtools.
 *
 * Hand-written because no Debian library writes FAT images (mtools and
 * dosfstools are programs; driving mformat + mcopy per file would be slower
 * and less reproducible than these few hundred lines). */
#ifndef LKB_DISK_FAT_H
#define LKB_DISK_FAT_H

#include <lkb/disk/error.h>
#include <lkb/disk/tree.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lkb_fat_type {
    LKB_FAT_AUTO = 0, /* by size: FAT32 from 512 MiB, FAT16 from 8 MiB, FAT12 below */
    LKB_FAT12 = 12,
    LKB_FAT16 = 16,
    LKB_FAT32 = 32,
};

struct lkb_fat_opts {
    enum lkb_fat_type type;
    const char *label;       /* volume label, up to 11 bytes; NULL = "NO NAME" */
    uint32_t serial;         /* volume serial; 0 = lkb_disk_id32(seed, "fat-serial") */
    const char *seed;        /* for the serial */
    uint32_t hidden_sectors; /* start sector of the partition (BPB field), 0 for a bare fs */
    int64_t mtime;           /* every entry's time (SOURCE_DATE_EPOCH); clamped to 1980..2107 */
};

/* The smallest size (a multiple of 1 MiB) of a file system of `type` that
 * holds the tree (with LKB_FAT_AUTO, of the type chosen at that size). */
int lkb_fat_min_bytes(const struct lkb_disk_tree *tree, enum lkb_fat_type type, uint64_t *bytes,
                      struct lkb_disk_error *err);

/* The type LKB_FAT_AUTO picks for a file system of `bytes`. */
enum lkb_fat_type lkb_fat_auto_type(uint64_t bytes);

/* Write a FAT file system of `bytes` (a multiple of 512) at byte `offset`
 * of fd. Only the metadata areas and the clusters in use are written: the
 * rest must read as zeros for the image to be reproducible (a new file
 * sized with ftruncate does). Errors: a size too small or too large for the
 * type, a name FAT cannot hold, two names equal but for case, a write
 * error (e.g. ENOSPC), a host file that changed size. */
int lkb_fat_write(int fd, uint64_t offset, uint64_t bytes, const struct lkb_fat_opts *opts,
                  const struct lkb_disk_tree *tree, struct lkb_disk_error *err);

#ifdef __cplusplus
}
#endif

#endif
