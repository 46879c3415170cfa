/* What is this output? lkb run looks at the files, not at how they were
 * built: the name's suffix first (LinuxKit's names: -kernel, .iso,
 * -efi.img, .qcow2, .vhd, .vmdk), then the bytes: the El Torito boot
 * catalog of an ISO, the partition table and boot code of a disk, the
 * kernel image's header, and the EFI loader's name on an EFI System
 * Partition for its architecture. Container formats are read through
 * `qemu-img dd` so QEMU's own block drivers decode them. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "util/fs.h"
#include "util/str.h"

/* How much of a disk or ESP is read: the partition tables, and the first
 * directories of a FAT file system made by lkb. */
#define HEAD_BYTES (8u << 20)

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Read up to len bytes at off; returns the count read (short at EOF). */
static int read_at(const char *path, uint64_t off, unsigned char *buf, size_t len, size_t *got,
                   struct lkb_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", path);
    size_t n = 0;
    while (n < len) {
        ssize_t r = pread(fd, buf + n, len - n, (off_t)(off + n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return lkb_error_errno(err, LKB_ERR_IO, e, "reading %s", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *got = n;
    return 0;
}

/* memmem is a GNU extension; the build is strict POSIX. */
static bool find_bytes(const unsigned char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

/* An ESP's loader by its FAT directory entry: the 8.3 name, the short
 * alias of a long name, or the long name's first UTF-16 characters
 * ("BOOTA"/"BOOTX"). */
static const char *esp_arch(const unsigned char *buf, size_t n)
{
    if (find_bytes(buf, n, "BOOTAA64EFI", 11) || find_bytes(buf, n, "BOOTAA~1EFI", 11) ||
        find_bytes(buf, n, "B\0O\0O\0T\0A\0", 10))
        return "arm64";
    if (find_bytes(buf, n, "BOOTX64 EFI", 11) || find_bytes(buf, n, "BOOTX6~1EFI", 11) ||
        find_bytes(buf, n, "B\0O\0O\0T\0X\0", 10))
        return "amd64";
    return NULL;
}

/* The kernel image's own header: x86's "HdrS" boot protocol magic, arm64
 * Image's "ARM\x64"; Debian's arm64 vmlinuz is a gzip of the Image, an x86
 * kernel never is. */
static const char *kernel_arch(const char *path)
{
    unsigned char h[0x210];
    size_t n = 0;
    struct lkb_error e;
    if (read_at(path, 0, h, sizeof h, &n, &e) < 0 || n < 64)
        return NULL;
    if (n >= 0x206 && memcmp(h + 0x202, "HdrS", 4) == 0)
        return "amd64";
    if (memcmp(h + 0x38, "ARM\x64", 4) == 0 || (h[0] == 0x1f && h[1] == 0x8b))
        return "arm64";
    return NULL;
}

static int detect_kernel(const char *prefix, struct lkb_run_target *t, struct lkb_error *err)
{
    char *kernel = lkb_strf("%s-kernel", prefix), *initrd = lkb_strf("%s-initrd.img", prefix),
         *cmdline = lkb_strf("%s-cmdline", prefix);
    int rc = -1;
    if (!kernel || !initrd || !cmdline) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        goto out;
    }
    if (!is_file(initrd)) {
        lkb_error_set(err, LKB_ERR_USAGE, "%s: kernel+initrd needs %s next to it", kernel, initrd);
        goto out;
    }
    size_t len = 0;
    if (is_file(cmdline)) {
        if (lkb_fs_read_file(cmdline, &t->cmdline, &len, err) < 0)
            goto out;
        while (len && (t->cmdline[len - 1] == '\n' || t->cmdline[len - 1] == '\r'))
            t->cmdline[--len] = '\0';
    } else if (!(t->cmdline = strdup(""))) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        goto out;
    }
    t->kind = LKB_RUN_KERNEL;
    t->firmware = LKB_RUN_FW_DIRECT;
    t->arch = kernel_arch(kernel);
    rc = 0;
out:
    free(kernel);
    free(initrd);
    free(cmdline);
    return rc;
}

/* The El Torito boot catalog (sector 17's boot record points at it): the
 * validation entry's platform is the default entry's, section headers
 * (0x90, 0x91 last) carry the others. 0 is x86 BIOS, 0xEF UEFI. */
static int detect_iso(const char *path, struct lkb_run_target *t, struct lkb_error *err)
{
    unsigned char brvd[2048], cat[2048];
    size_t n;
    if (read_at(path, 17 * 2048, brvd, sizeof brvd, &n, err) < 0)
        return -1;
    t->kind = LKB_RUN_ISO;
    t->drive_format = "raw";
    if (n < sizeof brvd || brvd[0] != 0 || memcmp(brvd + 1, "CD001", 5) != 0 ||
        memcmp(brvd + 7, "EL TORITO SPECIFICATION", 23) != 0)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "%s: no El Torito boot record: not a bootable ISO (a kernel+iso "
                             "data ISO boots with its -kernel, 'lkb run PREFIX')",
                             path);
    if (read_at(path, (uint64_t)le32(brvd + 0x47) * 2048, cat, sizeof cat, &n, err) < 0)
        return -1;
    if (n < sizeof cat || cat[0] != 1 || cat[0x1e] != 0x55 || cat[0x1f] != 0xaa)
        return lkb_error_set(err, LKB_ERR_USAGE, "%s: the El Torito boot catalog is invalid",
                             path);
    bool bios = false, uefi = false;
    uint32_t efi_rba = 0;
    int platform = cat[1];
    for (size_t off = 32; off + 32 <= sizeof cat; off += 32) {
        unsigned char *e = cat + off;
        if (e[0] == 0x90 || e[0] == 0x91) {
            platform = e[1];
            continue;
        }
        if (e[0] != 0x88)
            continue;
        if (platform == 0)
            bios = true;
        else if (platform == 0xef) {
            uefi = true;
            if (!efi_rba)
                efi_rba = le32(e + 8);
        }
    }
    if (!bios && !uefi)
        return lkb_error_set(err, LKB_ERR_USAGE, "%s: no bootable BIOS or UEFI El Torito entry",
                             path);
    t->firmware = bios ? LKB_RUN_FW_BIOS : LKB_RUN_FW_UEFI;
    if (bios) {
        t->arch = "amd64";
    } else {
        unsigned char *buf = malloc(HEAD_BYTES);
        if (!buf)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (read_at(path, (uint64_t)efi_rba * 2048, buf, HEAD_BYTES, &n, err) < 0) {
            free(buf);
            return -1;
        }
        t->arch = esp_arch(buf, n);
        free(buf);
    }
    return 0;
}

/* The first HEAD_BYTES of a disk image as raw bytes: read directly, or
 * decoded by qemu-img for a container format. */
static int disk_head(const char *path, const char *fmt, unsigned char *buf, size_t *n,
                     struct lkb_error *err)
{
    if (!strcmp(fmt, "raw"))
        return read_at(path, 0, buf, HEAD_BYTES, n, err);
    char *dir = NULL;
    if (lkb_fs_make_temp_dir("lkb-run-", &dir, err) < 0)
        return -1;
    char *out = lkb_fs_join(dir, "head"), *f = lkb_strf("-f%s", fmt),
         *in = lkb_strf("if=%s", path), *of = out ? lkb_strf("of=%s", out) : NULL,
         *count = lkb_strf("count=%u", HEAD_BYTES >> 16);
    int rc = -1;
    if (!f || !in || !of || !count) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    } else {
        char *argv[] = {"qemu-img", "dd", f, "-O", "raw", "bs=65536", count, in, of, NULL};
        char *log = lkb_fs_join(dir, "log");
        rc = log ? lkb_run_tool(argv, "qemu-utils", log, err) : -1;
        if (rc < 0 && log) {
            char *msg = NULL;
            size_t len;
            struct lkb_error e2;
            if (lkb_fs_read_file(log, &msg, &len, &e2) == 0) {
                while (len && msg[len - 1] == '\n')
                    msg[--len] = '\0';
                lkb_error_set(err, LKB_ERR_USAGE, "%s is not a readable %s image: %s", path,
                              fmt, msg);
            }
            free(msg);
        }
        free(log);
        if (rc == 0)
            rc = read_at(out, 0, buf, HEAD_BYTES, n, err);
    }
    struct lkb_error ignore;
    lkb_fs_remove_tree(dir, &ignore);
    free(dir);
    free(out);
    free(f);
    free(in);
    free(of);
    free(count);
    return rc;
}

/* The container format from the name, else QEMU's raw. */
static const char *disk_format(const char *path)
{
    if (has_suffix(path, ".qcow2"))
        return "qcow2";
    if (has_suffix(path, ".vhd"))
        return "vpc";
    if (has_suffix(path, ".vmdk"))
        return "vmdk";
    return "raw";
}

static int detect_disk(const char *path, struct lkb_run_target *t, struct lkb_error *err)
{
    t->kind = LKB_RUN_DISK;
    t->drive_format = disk_format(path);
    /* A raw image that is really a container (a renamed .qcow2) would boot
     * as garbage: its magic says so. */
    unsigned char magic[8];
    size_t n;
    if (read_at(path, 0, magic, sizeof magic, &n, err) < 0)
        return -1;
    if (n >= 4 && !memcmp(magic, "QFI\xfb", 4))
        t->drive_format = "qcow2";
    else if (n >= 8 && !memcmp(magic, "conectix", 8))
        t->drive_format = "vpc";
    else if (n >= 4 && !memcmp(magic, "KDMV", 4))
        t->drive_format = "vmdk";
    unsigned char *buf = malloc(HEAD_BYTES);
    if (!buf)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (disk_head(path, t->drive_format, buf, &n, err) < 0) {
        free(buf);
        return -1;
    }
    int rc = 0;
    bool mbr = n >= 1024 && buf[510] == 0x55 && buf[511] == 0xaa;
    bool gpt = mbr && !memcmp(buf + 512, "EFI PART", 8);
    bool code = false;
    for (size_t i = 0; mbr && i < 440; i++)
        code |= buf[i] != 0;
    if (!mbr) {
        rc = lkb_error_set(err, LKB_ERR_USAGE,
                           "%s: no partition table: not a bootable disk image (as %s)", path,
                           t->drive_format);
    } else if (code) {
        /* Boot code first: a hybrid (isohybrid MBR + GPT) boots either way,
         * and SeaBIOS is the simpler default; -uefi picks the other. */
        t->firmware = LKB_RUN_FW_BIOS;
        t->arch = esp_arch(buf, n);
    } else if (gpt) {
        t->firmware = LKB_RUN_FW_UEFI;
        t->arch = esp_arch(buf, n);
    } else if (!strcmp(t->drive_format, "raw")) {
        /* An MBR without boot code: only firmware that reads the FAT itself
         * boots it, which among lkb's outputs is the Raspberry Pi's. */
        t->kind = LKB_RUN_RPI3;
        t->firmware = LKB_RUN_FW_UBOOT;
        t->arch = "arm64";
        t->boot_part_offset = (unsigned long long)le32(buf + 446 + 8) * 512;
        if (buf[446 + 4] == 0 || t->boot_part_offset == 0)
            rc = lkb_error_set(err, LKB_ERR_USAGE,
                               "%s: an MBR without boot code or partitions: not bootable", path);
    } else {
        rc = lkb_error_set(err, LKB_ERR_USAGE, "%s: an MBR without boot code: not bootable",
                           path);
    }
    free(buf);
    return rc;
}

int lkb_run_detect(const char *arg, struct lkb_run_target *t, struct lkb_error *err)
{
    memset(t, 0, sizeof *t);
    if (!(t->path = strdup(arg)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    size_t len = strlen(arg);
    static const char *const suffixes[] = {".iso", "-bios.img", "-efi.img", "-efi.qcow2",
                                           ".qcow2", ".vhd", ".vmdk", ".raw", ".img"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
        if (has_suffix(arg, suffixes[i])) {
            len -= strlen(suffixes[i]);
            break;
        }
    if (!(t->prefix = strndup(arg, len)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");

    if (!is_file(arg)) {
        char *kernel = lkb_strf("%s-kernel", arg);
        if (!kernel)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        bool k = is_file(kernel);
        free(kernel);
        if (k)
            return detect_kernel(arg, t, err);
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "nothing to boot at %s: no such file, and no %s-kernel "
                             "(kernel+initrd outputs are run by their prefix)",
                             arg, arg);
    }
    if (has_suffix(arg, ".tar") || has_suffix(arg, ".tar.gz")) {
        if (lkb_run_sdcard_check_tar(arg, err) < 0)
            return -1;
        t->kind = LKB_RUN_RPI3;
        t->firmware = LKB_RUN_FW_UBOOT;
        t->arch = "arm64";
        t->drive_format = "raw";
        t->sd_from_tar = true;
        t->boot_part_offset = 1 << 20;
        free(t->prefix);
        t->prefix = strndup(arg, strlen(arg) - (has_suffix(arg, ".tar") ? 4 : 7));
        return t->prefix ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (has_suffix(arg, ".iso"))
        return detect_iso(arg, t, err);
    return detect_disk(arg, t, err);
}

void lkb_run_target_free(struct lkb_run_target *t)
{
    free(t->path);
    free(t->prefix);
    free(t->cmdline);
    memset(t, 0, sizeof *t);
}
