/* MBR and GPT partition tables, written with util-linux's libfdisk (the
 * library behind fdisk/sfdisk), with the disk id and partition GUIDs
 * derived from a seed so images are reproducible. GPT gets libfdisk's
 * protective MBR. Partitions are aligned (1 MiB by default); starts and
 * sizes are decided here (lkb_part_layout) so a plugin knows where to
 * write each file system before anything is written. */
#ifndef LKB_DISK_PART_H
#define LKB_DISK_PART_H

#include <lkb/disk/error.h>
#include <lkb/disk/id.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum lkb_part_label {
    LKB_PART_MBR = 1, /* "dos": up to 4 primary partitions */
    LKB_PART_GPT = 2,
};

struct lkb_part {
    /* Partition type as sfdisk takes it: MBR hex ("c", "83", "ef") or a
     * GPT type GUID, or an alias ("linux", "uefi", "swap", ...). */
    const char *type;
    uint64_t size;    /* bytes, rounded up to the alignment; 0 = the rest (last only) */
    uint64_t start;   /* bytes; 0 = right after the previous one, aligned */
    const char *name; /* GPT partition name; ignored for MBR */
    int bootable;     /* MBR: active flag; GPT: legacy BIOS bootable attribute */
};

struct lkb_part_table {
    enum lkb_part_label label;
    const char *seed; /* disk id and partition GUIDs; see lkb_part_uuid */
    uint64_t align;   /* bytes, a multiple of 512; 0 = 1 MiB */
};

/* Resolve every partition's start and size (in place) on a disk of
 * disk_bytes. No I/O. Errors name the partition: overlap, not aligned,
 * does not fit, "rest" not last, more than 4 MBR partitions. */
int lkb_part_layout(const struct lkb_part_table *t, uint64_t disk_bytes, struct lkb_part *parts,
                    size_t n, struct lkb_disk_error *err);

/* The smallest disk (a multiple of the alignment) that holds the
 * partitions; a "rest" partition counts as one alignment unit. */
uint64_t lkb_part_min_disk_bytes(const struct lkb_part_table *t, const struct lkb_part *parts,
                                 size_t n);

/* Lay out (as lkb_part_layout) and write the table to fd, whose current
 * size is the disk size. Only the table areas are written (for GPT also the
 * backup at the end). */
int lkb_part_write(int fd, const struct lkb_part_table *t, struct lkb_part *parts, size_t n,
                   struct lkb_disk_error *err);

/* The PARTUUID the kernel sees for partition `partno` (1-based), for
 * root=PARTUUID=...: "xxxxxxxx-0N" on MBR, the partition GUID on GPT. */
void lkb_part_uuid(const struct lkb_part_table *t, size_t partno, char out[LKB_DISK_GUID_LEN]);

#ifdef __cplusplus
}
#endif

#endif
