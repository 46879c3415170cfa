/* An SD card for the rpi3 format's tar: QEMU's raspi machines boot from
 * a card, so lkb run lays the tar's files on one, as a user would with
 * `tar x` onto a freshly formatted card: an MBR with one FAT32 partition
 * (type 0x0c) at 1 MiB, formatted by mkfs.fat and filled by mcopy. The tar
 * is read with libarchive, refusing absolute paths and "..". */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "util/fs.h"
#include "util/str.h"

#define PART_START 2048u /* sectors: 1 MiB */

int lkb_run_sdcard_check_tar(const char *tar, struct lkb_error *err)
{
    struct archive *a = archive_read_new();
    if (!a)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    bool uboot = false, bootcode = false;
    int rc = archive_read_open_filename(a, tar, 1 << 16);
    struct archive_entry *e;
    while (rc == ARCHIVE_OK && (rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *n = archive_entry_pathname(e);
        /* Refused before anything is made (extract() checks again). */
        if (n[0] == '/' || !strcmp(n, "..") || !strncmp(n, "../", 3) || strstr(n, "/../") ||
            (strlen(n) >= 3 && !strcmp(n + strlen(n) - 3, "/.."))) {
            lkb_error_set(err, LKB_ERR_USAGE, "%s: unsafe path %s in the tar", tar, n);
            archive_read_free(a);
            return -1;
        }
        n += strncmp(n, "./", 2) == 0 ? 2 : 0;
        uboot |= strcmp(n, "u-boot.bin") == 0;
        bootcode |= strcmp(n, "bootcode.bin") == 0;
    }
    int ok = rc == ARCHIVE_EOF;
    if (!ok)
        lkb_error_set(err, LKB_ERR_USAGE, "%s: %s", tar, archive_error_string(a));
    archive_read_free(a);
    if (!ok)
        return -1;
    if (!uboot || !bootcode)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "%s: a tar without bootcode.bin and u-boot.bin is not an rpi3 SD "
                             "card: nothing to boot (gcp's .img.tar.gz: unpack it and run "
                             "disk.raw)",
                             tar);
    return 0;
}

static int extract(const char *tar, const char *dir, uint64_t *bytes, struct lkb_error *err)
{
    struct archive *a = archive_read_new(), *w = archive_write_disk_new();
    if (!a || !w) {
        archive_read_free(a);
        archive_write_free(w);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    /* The tar's names are put under dir, so an absolute one is refused
     * here; libarchive refuses ".." and writing through symlinks. */
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    int rc = archive_read_open_filename(a, tar, 1 << 16), ret = 0;
    struct archive_entry *e;
    *bytes = 0;
    while (ret == 0 && rc == ARCHIVE_OK && (rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        char *path = name[0] == '/' ? NULL : lkb_fs_join(dir, name);
        if (name[0] == '/')
            ret = lkb_error_set(err, LKB_ERR_USAGE, "%s: absolute path %s in the tar", tar, name);
        else if (!path)
            ret = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else
            archive_entry_set_pathname(e, path);
        free(path);
        *bytes += (uint64_t)archive_entry_size(e) + 4096;
        if (ret == 0 && archive_write_header(w, e) != ARCHIVE_OK)
            ret = lkb_error_set(err, LKB_ERR_IO, "unpacking %s: %s", tar, archive_error_string(w));
        const void *buf;
        size_t len;
        la_int64_t off;
        while (ret == 0 && (rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
            if (archive_write_data_block(w, buf, len, off) != ARCHIVE_OK)
                ret = lkb_error_set(err, LKB_ERR_IO, "unpacking %s: %s", tar,
                                    archive_error_string(w));
        if (ret == 0 && rc == ARCHIVE_EOF)
            rc = ARCHIVE_OK;
        if (ret == 0 && archive_write_finish_entry(w) != ARCHIVE_OK)
            ret = lkb_error_set(err, LKB_ERR_IO, "unpacking %s: %s", tar, archive_error_string(w));
    }
    if (ret == 0 && rc != ARCHIVE_EOF)
        ret = lkb_error_set(err, LKB_ERR_IO, "unpacking %s: %s", tar, archive_error_string(a));
    archive_read_free(a);
    archive_write_free(w);
    return ret;
}

/* The MBR: one FAT32 LBA partition (0x0c) from 1 MiB to the end. */
static int write_mbr(const char *img, uint32_t sectors, struct lkb_error *err)
{
    unsigned char e[16] = {0x00, 0xfe, 0xff, 0xff, 0x0c, 0xfe, 0xff, 0xff};
    uint32_t start = PART_START, n = sectors - PART_START;
    for (int i = 0; i < 4; i++) {
        e[8 + i] = (unsigned char)(start >> (8 * i));
        e[12 + i] = (unsigned char)(n >> (8 * i));
    }
    int fd = open(img, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", img);
    int ok = pwrite(fd, e, 16, 446) == 16 && pwrite(fd, "\x55\xaa", 2, 510) == 2;
    int e2 = errno;
    close(fd);
    return ok ? 0 : lkb_error_errno(err, LKB_ERR_IO, e2, "writing the MBR of %s", img);
}

int lkb_run_sdcard_make(const char *tar, const char *img, const char *state,
                        struct lkb_error *err)
{
    char *dir = lkb_fs_join(state, "sdcard-files"), *log = lkb_fs_join(state, "sdcard.log");
    char *fat = lkb_strf("%s@@%u", img, PART_START * 512), *kib = NULL;
    struct lkb_error ignore;
    uint64_t bytes = 0;
    int rc = dir && log && fat ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0) {
        lkb_fs_remove_tree(dir, &ignore);
        unlink(img);
        rc = lkb_fs_mkdir_p(dir, 0755, err);
    }
    if (rc == 0)
        rc = extract(tar, dir, &bytes, err);
    /* Twice the files and at least 256 MiB (FAT32's minimum cluster count
     * with room to spare), whole MiB; sparse. */
    uint64_t mib = (bytes * 2 >> 20) + 1;
    mib = mib < 256 ? 256 : mib;
    if (rc == 0) {
        int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)(mib << 20)) != 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "creating %s", img);
        if (fd >= 0)
            close(fd);
    }
    if (rc == 0 && !(kib = lkb_strf("%llu", (unsigned long long)(mib << 10) - PART_START / 2)))
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0) {
        char off[16];
        snprintf(off, sizeof off, "%u", PART_START);
        char *imgc = strdup(img);
        char *argv[] = {"mkfs.fat", "-F", "32", "-n", "RPI3BOOT", "--offset", off, imgc, kib, NULL};
        rc = imgc ? lkb_run_tool(argv, "dosfstools", log, err)
                  : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(imgc);
    }
    if (rc == 0)
        rc = write_mbr(img, (uint32_t)(mib << 11), err);
    DIR *d = rc == 0 ? opendir(dir) : NULL;
    if (rc == 0 && !d)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "reading %s", dir);
    struct lkb_strv argv = {0};
    if (rc == 0 && (lkb_strv_add(&argv, "mcopy", err) || lkb_strv_add(&argv, "-s", err) || lkb_strv_add(&argv, "-m", err) ||
                    lkb_strv_add(&argv, "-Q", err) || lkb_strv_add(&argv, "-i", err) ||
                    lkb_strv_add(&argv, fat, err)))
        rc = -1;
    for (struct dirent *de; rc == 0 && (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = lkb_fs_join(dir, de->d_name);
        rc = p ? lkb_strv_add(&argv, p, err) : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(p);
    }
    if (d)
        closedir(d);
    if (rc == 0 && !lkb_strv_add(&argv, "::/", err))
        rc = lkb_run_tool(argv.v, "mtools", log, err);
    else if (rc == 0)
        rc = -1;
    lkb_strv_free(&argv);
    if (rc < 0) {
        unlink(img);
        lkb_error_prefix(err, "making an SD card of %s: ", tar);
    }
    lkb_fs_remove_tree(dir, &ignore);
    free(dir);
    free(log);
    free(fat);
    free(kib);
    return rc;
}
