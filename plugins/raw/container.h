/* Disk container formats made from the raw disk: qcow2, VHD (fixed and
 * dynamic), stream-optimised VMDK with qemu-img convert, then made
 * reproducible; and the gzip'd tar Google Compute Engine imports. */
#ifndef RAW_CONTAINER_H
#define RAW_CONTAINER_H

#include <lkb/disk/error.h>
#include <stdint.h>

enum raw_container {
    RAW_QCOW2 = 1,
    RAW_VHD_FIXED,
    RAW_VHD_DYNAMIC,
    RAW_VMDK,
    RAW_GCP_TAR,
};

/* Write the container `kind` of the raw disk at src to dst. Ids and times
 * the container carries come from seed and source_date_epoch. On error
 * nothing is left at dst. */
int raw_container_write(enum raw_container kind, const char *src, const char *dst,
                        const char *seed, int64_t source_date_epoch, struct lkb_disk_error *err);

#endif
