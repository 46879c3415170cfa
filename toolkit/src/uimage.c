#include <lkb/disk/uimage.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"

/* A small writer of our own: the header is 64 bytes of fixed fields and two
 * CRC32s; mkimage is only used in the tests to check it. */
_Static_assert(LKB_UIMAGE_HEADER_SIZE == 7 * 4 + 4 + 32, "uImage header layout");

#define CHUNK (1u << 20)

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* zlib's crc32 is the same CRC-32 u-boot uses; it takes uInt lengths. */
static uLong crc_more(uLong crc, const unsigned char *d, size_t len)
{
    for (size_t off = 0; off < len;) {
        uInt chunk = len - off > 0x40000000u ? 0x40000000u : (uInt)(len - off);
        crc = crc32(crc, d + off, chunk);
        off += chunk;
    }
    return crc;
}

static void header(unsigned char hdr[LKB_UIMAGE_HEADER_SIZE], const struct lkb_uimage_params *p,
                   uint32_t len, uint32_t dcrc)
{
    memset(hdr, 0, LKB_UIMAGE_HEADER_SIZE);
    be32(hdr + 0, LKB_UIMAGE_MAGIC);
    be32(hdr + 8, p->time);
    be32(hdr + 12, len);
    be32(hdr + 16, p->load);
    be32(hdr + 20, p->entry);
    be32(hdr + 24, dcrc);
    hdr[28] = p->os ? p->os : LKB_UIMAGE_OS_LINUX;
    hdr[29] = p->arch ? p->arch : LKB_UIMAGE_ARCH_ARM64;
    hdr[30] = p->type;
    hdr[31] = p->comp;
    strncpy((char *)hdr + 32, p->name ? p->name : "", 31);
    be32(hdr + 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), hdr, LKB_UIMAGE_HEADER_SIZE));
}

void lkb_uimage_header(unsigned char hdr[LKB_UIMAGE_HEADER_SIZE], const struct lkb_uimage_params *p,
                       const void *payload, size_t len)
{
    header(hdr, p, (uint32_t)len, (uint32_t)crc_more(crc32(0L, Z_NULL, 0), payload, len));
}

int lkb_uimage_write_file(int out_fd, uint64_t offset, const struct lkb_uimage_params *p,
                          const char *payload_path, uint64_t *written, struct lkb_disk_error *err)
{
    int in = open(payload_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return disk_errno(err, errno, "%s", payload_path);
    struct stat st;
    unsigned char *buf = malloc(CHUNK);
    int rc = buf ? 0 : disk_error(err, "out of memory");
    if (rc == 0 && fstat(in, &st) < 0)
        rc = disk_errno(err, errno, "%s", payload_path);
    if (rc == 0 && (uint64_t)st.st_size > UINT32_MAX)
        rc = disk_error(err, "%s is larger than a uImage can hold (4 GiB - 1)", payload_path);
    uLong crc = crc32(0L, Z_NULL, 0);
    uint64_t size = rc == 0 ? (uint64_t)st.st_size : 0;
    /* Pass 1: CRC; pass 2: copy. Both check the size did not change. */
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        uint64_t done = 0;
        for (;;) {
            ssize_t r = pread(in, buf, CHUNK, (off_t)done);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = disk_errno(err, errno, "reading %s", payload_path);
                break;
            }
            if (r == 0 || done + (uint64_t)r > size)
                break;
            if (pass == 0)
                crc = crc_more(crc, buf, (size_t)r);
            else if (disk_pwrite_all(out_fd, buf, (size_t)r,
                                     offset + LKB_UIMAGE_HEADER_SIZE + done) < 0) {
                rc = disk_errno(err, errno, "writing the uImage of %s", payload_path);
                break;
            }
            done += (uint64_t)r;
        }
        if (rc == 0 && done != size)
            rc = disk_error(err, "%s changed size while it was read", payload_path);
    }
    unsigned char hdr[LKB_UIMAGE_HEADER_SIZE];
    if (rc == 0) {
        header(hdr, p, (uint32_t)size, (uint32_t)crc);
        if (disk_pwrite_all(out_fd, hdr, sizeof hdr, offset) < 0)
            rc = disk_errno(err, errno, "writing the uImage of %s", payload_path);
    }
    if (rc == 0 && written)
        *written = size + LKB_UIMAGE_HEADER_SIZE;
    free(buf);
    close(in);
    return rc;
}

unsigned char *lkb_uimage_script(const char *script, const char *name, size_t *out_len)
{
    size_t slen = strlen(script), plen = 8 + slen;
    unsigned char *img = malloc(LKB_UIMAGE_HEADER_SIZE + plen);
    if (!img)
        return NULL;
    unsigned char *payload = img + LKB_UIMAGE_HEADER_SIZE;
    be32(payload, (uint32_t)slen);
    be32(payload + 4, 0);
    memcpy(payload + 8, script, slen);
    struct lkb_uimage_params p = {LKB_UIMAGE_TYPE_SCRIPT, LKB_UIMAGE_COMP_NONE, 0, 0, 0, name, 0, 0};
    lkb_uimage_header(img, &p, payload, plen);
    *out_len = LKB_UIMAGE_HEADER_SIZE + plen;
    return img;
}
