/* A ready-to-flash SD card image: MBR, a FAT32 boot partition with the
 * boot files, and an optional data partition; built with the disk toolkit
 * (<lkb/disk.h>). */
#ifndef LKB_RPI3_SDIMAGE_H
#define LKB_RPI3_SDIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* One file of the boot partition; data stays the caller's. */
struct fat_file {
    const char *path; /* "dtb/broadcom/x.dtb": parents are created */
    const unsigned char *data;
    size_t size;
};

struct sd_layout {
    uint64_t total;     /* image size; 0 = smallest power of two that fits */
    uint64_t data_size; /* 0 = no data partition; UINT64_MAX = the rest */
    const char *data_fs; /* "ext4" or "none" */
};

/* Write the image to path (atomically). The boot partition gets at least
 * twice its files and 64 MiB, plus whatever a fixed-size data partition
 * leaves of the image (all of it without one); too small a total is an
 * error. msg gets the error. */
int sdimage_write(const char *path, const struct sd_layout *layout, const struct fat_file *files,
                  size_t n, char *msg, size_t msglen);

#endif
