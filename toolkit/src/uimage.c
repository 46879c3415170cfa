#include "uimage.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A small writer of our own: the header is 64 bytes of fixed fields and two
 * CRC32s; mkimage is only used in the tests to check it. */
_Static_assert(UIMAGE_HEADER_SIZE == 7 * 4 + 4 + 32, "uImage header layout");

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

void uimage_header(unsigned char hdr[UIMAGE_HEADER_SIZE], const struct uimage_params *p,
                   const void *payload, size_t len)
{
    memset(hdr, 0, UIMAGE_HEADER_SIZE);
    be32(hdr + 0, UIMAGE_MAGIC);
    be32(hdr + 8, p->time);
    be32(hdr + 12, (uint32_t)len);
    be32(hdr + 16, p->load);
    be32(hdr + 20, p->entry);
    /* zlib's crc32 is the same CRC-32 u-boot uses; it takes uInt lengths. */
    uLong dcrc = crc32(0L, Z_NULL, 0);
    const unsigned char *d = payload;
    for (size_t off = 0; off < len;) {
        uInt chunk = len - off > 0x40000000u ? 0x40000000u : (uInt)(len - off);
        dcrc = crc32(dcrc, d + off, chunk);
        off += chunk;
    }
    be32(hdr + 24, (uint32_t)dcrc);
    hdr[28] = UIMAGE_OS_LINUX;
    hdr[29] = UIMAGE_ARCH_ARM64;
    hdr[30] = p->type;
    hdr[31] = p->comp;
    strncpy((char *)hdr + 32, p->name ? p->name : "", 31);
    be32(hdr + 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), hdr, UIMAGE_HEADER_SIZE));
}

unsigned char *uimage_script(const char *script, const char *name, size_t *out_len)
{
    size_t slen = strlen(script), plen = 8 + slen;
    unsigned char *img = malloc(UIMAGE_HEADER_SIZE + plen);
    if (!img)
        return NULL;
    unsigned char *payload = img + UIMAGE_HEADER_SIZE;
    be32(payload, (uint32_t)slen);
    be32(payload + 4, 0);
    memcpy(payload + 8, script, slen);
    struct uimage_params p = {UIMAGE_TYPE_SCRIPT, UIMAGE_COMP_NONE, 0, 0, 0, name};
    uimage_header(img, &p, payload, plen);
    *out_len = UIMAGE_HEADER_SIZE + plen;
    return img;
}
