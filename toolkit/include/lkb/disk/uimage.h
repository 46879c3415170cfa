/* u-boot legacy images ("uImage"): a 64-byte big-endian header with CRCs
 * in front of the payload (u-boot include/image.h), checked in the tests
 * with u-boot's dumpimage. */
#ifndef LKB_DISK_UIMAGE_H
#define LKB_DISK_UIMAGE_H

#include <lkb/disk/error.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LKB_UIMAGE_MAGIC 0x27051956u
#define LKB_UIMAGE_HEADER_SIZE 64
#define LKB_UIMAGE_OS_LINUX 5
#define LKB_UIMAGE_ARCH_ARM 2
#define LKB_UIMAGE_ARCH_X86 3
#define LKB_UIMAGE_ARCH_RISCV 26
#define LKB_UIMAGE_ARCH_ARM64 22
#define LKB_UIMAGE_TYPE_KERNEL 2
#define LKB_UIMAGE_TYPE_RAMDISK 3
#define LKB_UIMAGE_TYPE_SCRIPT 6
#define LKB_UIMAGE_COMP_NONE 0
#define LKB_UIMAGE_COMP_GZIP 1

struct lkb_uimage_params {
    uint8_t type, comp;
    uint32_t load, entry;
    uint32_t time;    /* 0, or SOURCE_DATE_EPOCH: keeps the image reproducible */
    const char *name; /* up to 31 bytes are kept */
    uint8_t os, arch; /* 0 = LKB_UIMAGE_OS_LINUX, LKB_UIMAGE_ARCH_ARM64 */
};

/* Fill hdr (64 bytes) for payload[len]. */
void lkb_uimage_header(unsigned char hdr[LKB_UIMAGE_HEADER_SIZE], const struct lkb_uimage_params *p,
                       const void *payload, size_t len);

/* Write header + the contents of payload_path to out_fd at offset,
 * reading the payload twice in pieces (CRC, then copy): no whole file in
 * memory. *written gets header + payload bytes. */
int lkb_uimage_write_file(int out_fd, uint64_t offset, const struct lkb_uimage_params *p,
                          const char *payload_path, uint64_t *written, struct lkb_disk_error *err);

/* A script image: the payload is a table of part sizes (one part, then a
 * zero) followed by the script text, as `mkimage -T script` writes it.
 * Returns a malloc'd image (header + payload) and its size; NULL when out
 * of memory. */
unsigned char *lkb_uimage_script(const char *script, const char *name, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
