#include "container.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <lkb/disk/id.h>
#include <lkb/disk/run.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VHD_FOOTER 512
#define VHD_EPOCH 946684800 /* 2000-01-01T00:00:00Z, the VHD time origin */
#define CHUNK (1u << 20)

static int sys_fail(struct lkb_disk_error *err, const char *what, const char *path)
{
    snprintf(err->msg, sizeof err->msg, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

static void be32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* The 16 bytes of a GUID in text form. */
static void guid_bytes(const char *text, unsigned char out[16])
{
    for (size_t i = 0, j = 0; text[i] && j < 16; i++) {
        if (text[i] == '-')
            continue;
        unsigned v;
        sscanf(text + i, "%2x", &v);
        out[j++] = (unsigned char)v;
        i++;
    }
}

/* qemu-img puts the clock time and a random UUID into the VHD footer
 * (block/vpc.c); rewrite both from SOURCE_DATE_EPOCH and the seed, and the
 * checksum (one's complement of the byte sum) that covers them. */
static int vhd_fix_footer(int fd, off_t at, const char *seed, int64_t epoch, const char *path,
                          struct lkb_disk_error *err)
{
    unsigned char f[VHD_FOOTER];
    if (pread(fd, f, sizeof f, at) != (ssize_t)sizeof f)
        return sys_fail(err, "reading the VHD footer of", path);
    if (memcmp(f, "conectix", 8) != 0) {
        snprintf(err->msg, sizeof err->msg, "%s: no VHD footer at %lld", path, (long long)at);
        return -1;
    }
    int64_t t = epoch > VHD_EPOCH ? epoch - VHD_EPOCH : 0;
    be32(f + 24, t > UINT32_MAX ? UINT32_MAX : (uint32_t)t);
    char guid[LKB_DISK_GUID_LEN];
    lkb_disk_guid(seed, "vhd-uuid", guid);
    guid_bytes(guid, f + 68);
    memset(f + 64, 0, 4);
    uint32_t sum = 0;
    for (size_t i = 0; i < sizeof f; i++)
        sum += f[i];
    be32(f + 64, ~sum);
    if (pwrite(fd, f, sizeof f, at) != (ssize_t)sizeof f)
        return sys_fail(err, "writing the VHD footer of", path);
    return 0;
}

/* qemu-img gives a stream-optimised VMDK a random content id (CID=...
 * in the embedded descriptor, block/vmdk.c); replace it with one from the
 * seed. The descriptor's place is in the header (sectors, little-endian). */
static int vmdk_fix_cid(int fd, const char *seed, const char *path, struct lkb_disk_error *err)
{
    unsigned char h[64];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, "KDMV", 4) != 0) {
        snprintf(err->msg, sizeof err->msg, "%s: not a VMDK sparse extent", path);
        return -1;
    }
    uint64_t off = 0, len = 0;
    for (int i = 7; i >= 0; i--) {
        off = off << 8 | h[28 + i];
        len = len << 8 | h[36 + i];
    }
    if (!off || !len || len > 128) {
        snprintf(err->msg, sizeof err->msg, "%s: no embedded VMDK descriptor", path);
        return -1;
    }
    char desc[128 * 512 + 1];
    ssize_t n = pread(fd, desc, len * 512, (off_t)(off * 512));
    if (n != (ssize_t)(len * 512))
        return sys_fail(err, "reading the VMDK descriptor of", path);
    desc[n] = '\0';
    /* qemu prints the CID with %x: 1 to 8 digits. Rebuild the text with 8
     * and write the whole (zero-padded) descriptor area back. */
    char *cid = strstr(desc, "\nCID="), *eol = cid ? strchr(cid + 1, '\n') : NULL;
    size_t used = strlen(desc);
    if (!eol || used + 8 >= (size_t)n) {
        snprintf(err->msg, sizeof err->msg, "%s: no CID in the VMDK descriptor", path);
        return -1;
    }
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", lkb_disk_id32(seed, "vmdk-cid"));
    size_t old = (size_t)(eol - (cid + 5));
    memmove(cid + 5 + 8, eol, used - (size_t)(eol - desc) + 1);
    memcpy(cid + 5, hex, 8);
    memset(desc + used - old + 8, 0, (size_t)n - (used - old + 8));
    if (pwrite(fd, desc, (size_t)n, (off_t)(off * 512)) != n)
        return sys_fail(err, "writing the VMDK descriptor of", path);
    return 0;
}

static int qemu_img(enum raw_container kind, const char *src, const char *dst, const char *seed,
                    int64_t epoch, struct lkb_disk_error *err)
{
    const char *fmt = kind == RAW_QCOW2 ? "qcow2" : kind == RAW_VMDK ? "vmdk" : "vpc";
    /* force_size: the footer's size is the disk's, not a CHS rounding
     * (Azure wants whole MiB); qemu reads such images by that size. */
    const char *o = kind == RAW_VHD_FIXED     ? "subformat=fixed,force_size=on"
                    : kind == RAW_VHD_DYNAMIC ? "subformat=dynamic,force_size=on"
                    : kind == RAW_VMDK        ? "subformat=streamOptimized"
                                              : "compat=1.1";
    const char *argv[] = {"qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, "-o", o,
                          src,        dst,       NULL};
    struct lkb_run_opts ro = {.package = "qemu-utils", .source_date_epoch = epoch, .stdout_fd = -1};
    if (lkb_run(argv, &ro, err) != 0)
        return -1;
    if (kind == RAW_QCOW2)
        return 0; /* qcow2 carries no time and no id */
    int fd = open(dst, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return sys_fail(err, "opening", dst);
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? sys_fail(err, "stat", dst) : 0;
    if (rc == 0 && kind == RAW_VMDK)
        rc = vmdk_fix_cid(fd, seed, dst, err);
    else if (rc == 0 && st.st_size < 2 * VHD_FOOTER)
        rc = sys_fail(err, "short VHD", dst);
    if (rc == 0 && kind != RAW_VMDK)
        rc = vhd_fix_footer(fd, st.st_size - VHD_FOOTER, seed, epoch, dst, err);
    /* A dynamic VHD has a copy of the footer in front. */
    if (rc == 0 && kind == RAW_VHD_DYNAMIC)
        rc = vhd_fix_footer(fd, 0, seed, epoch, dst, err);
    if (close(fd) < 0 && rc == 0)
        rc = sys_fail(err, "writing", dst);
    return rc;
}

/* disk.raw in a gzip'd GNU tar, as Compute Engine imports it. libarchive,
 * not tar(1): the entry's time and the gzip header are under our control
 * (no timestamp in the gzip header). The tar entry is not sparse (GCE also
 * takes plain entries); the zeros compress to almost nothing. */
static int gcp_tar(const char *src, const char *dst, int64_t epoch, struct lkb_disk_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sys_fail(err, "opening", src);
    struct stat st;
    unsigned char *buf = malloc(CHUNK);
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    int rc = 0;
    if (!buf || !a || !e) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        rc = -1;
    } else if (fstat(in, &st) < 0) {
        rc = sys_fail(err, "stat", src);
    }
    if (rc == 0 && (archive_write_set_format_gnutar(a) != ARCHIVE_OK ||
                    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
                    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
                    archive_write_set_filter_option(a, "gzip", "compression-level", "1") !=
                        ARCHIVE_OK ||
                    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
                    archive_write_open_filename(a, dst) != ARCHIVE_OK)) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", dst, archive_error_string(a));
        rc = -1;
    }
    if (rc == 0) {
        archive_entry_set_pathname(e, "disk.raw");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, epoch, 0);
        archive_entry_set_size(e, st.st_size);
        if (archive_write_header(a, e) != ARCHIVE_OK) {
            snprintf(err->msg, sizeof err->msg, "%s: %s", dst, archive_error_string(a));
            rc = -1;
        }
    }
    for (off_t done = 0; rc == 0 && done < st.st_size;) {
        ssize_t n = read(in, buf, CHUNK);
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* the disk shrank while we read it */
            rc = sys_fail(err, "reading", src);
        } else if (archive_write_data(a, buf, (size_t)n) != n) {
            snprintf(err->msg, sizeof err->msg, "%s: %s", dst, archive_error_string(a));
            rc = -1;
        } else {
            done += n;
        }
    }
    if (a && archive_write_close(a) != ARCHIVE_OK && rc == 0) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", dst, archive_error_string(a));
        rc = -1;
    }
    archive_write_free(a);
    archive_entry_free(e);
    free(buf);
    close(in);
    return rc;
}

int raw_container_write(enum raw_container kind, const char *src, const char *dst,
                        const char *seed, int64_t source_date_epoch, struct lkb_disk_error *err)
{
    int rc = kind == RAW_GCP_TAR ? gcp_tar(src, dst, source_date_epoch, err)
                                 : qemu_img(kind, src, dst, seed, source_date_epoch, err);
    if (rc != 0)
        unlink(dst);
    return rc;
}
