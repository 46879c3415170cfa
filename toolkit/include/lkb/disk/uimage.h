/* u-boot legacy images ("uImage"): a 64-byte big-endian header with CRCs
 * in front of the payload (u-boot include/image.h). */
#ifndef LKB_RPI3_UIMAGE_H
#define LKB_RPI3_UIMAGE_H

#include <stddef.h>
#include <stdint.h>

#define UIMAGE_MAGIC 0x27051956u
#define UIMAGE_HEADER_SIZE 64
#define UIMAGE_OS_LINUX 5
#define UIMAGE_ARCH_ARM64 22
#define UIMAGE_TYPE_KERNEL 2
#define UIMAGE_TYPE_RAMDISK 3
#define UIMAGE_TYPE_SCRIPT 6
#define UIMAGE_COMP_NONE 0
#define UIMAGE_COMP_GZIP 1

struct uimage_params {
    uint8_t type, comp;
    uint32_t load, entry;
    uint32_t time; /* 0 keeps the image reproducible */
    const char *name;
};

/* Fill hdr (64 bytes) for payload[len]. */
void uimage_header(unsigned char hdr[UIMAGE_HEADER_SIZE], const struct uimage_params *p,
                   const void *payload, size_t len);

/* A script image: the payload is a table of part sizes (one part, then a
 * zero) followed by the script text, as `mkimage -T script` writes it.
 * Returns a malloc'd image (header + payload) and its size. */
unsigned char *uimage_script(const char *script, const char *name, size_t *out_len);

#endif
