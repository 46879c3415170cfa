/* A small FAT32 writer for the SD card boot partition: directories, long
 * file names, contiguous files, fixed timestamps and volume id, so the same
 * files always give the same bytes. Checked in the tests with fsck.fat and
 * mtools. Written here because no Debian library writes FAT images
 * (mtools and dosfstools are programs, not libraries). */
#ifndef LKB_RPI3_FAT32_H
#define LKB_RPI3_FAT32_H

#include <stddef.h>
#include <stdint.h>

struct fat_file {
    const char *path; /* "dtb/broadcom/x.dtb": parents are created */
    const unsigned char *data;
    size_t size;
};

/* Smallest partition that holds the files with FAT32's minimum cluster
 * count, rounded up to 1 MiB. */
uint64_t fat32_min_bytes(const struct fat_file *files, size_t n);

/* Write a FAT32 file system of `bytes` (a multiple of 512) at byte `offset`
 * of fd; `hidden` is the partition's start sector (for the BPB). Returns
 * 0, or -1 with a message in msg. */
int fat32_write(int fd, uint64_t offset, uint64_t bytes, uint32_t hidden, const char *label,
                const struct fat_file *files, size_t n, char *msg, size_t msglen);

#endif
