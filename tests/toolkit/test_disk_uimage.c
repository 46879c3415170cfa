/* uImages: the header fields and CRCs, the streaming writer equal to the
 * in-memory one, and u-boot's dumpimage reading both. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lkb/disk/uimage.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "disk_testlib.h"

TestSuite(uimage, .fini = tl_cleanup);

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

Test(uimage, file_writer_matches_memory_and_dumpimage_reads_it)
{
    static unsigned char payload[3 << 20];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i ^ (i >> 9));
    tl_write(tl_path("Image"), payload, sizeof payload);
    struct lkb_uimage_params p = {.type = LKB_UIMAGE_TYPE_KERNEL, .load = 0x200000,
                                  .entry = 0x200000, .time = 1700000000, .name = "lkb kernel",
                                  .arch = LKB_UIMAGE_ARCH_ARM};
    unsigned char hdr[LKB_UIMAGE_HEADER_SIZE];
    lkb_uimage_header(hdr, &p, payload, sizeof payload);
    cr_assert_eq(be32(hdr), LKB_UIMAGE_MAGIC);
    cr_assert_eq(be32(hdr + 8), 1700000000u);
    cr_assert_eq(be32(hdr + 12), sizeof payload);
    cr_assert_eq(be32(hdr + 24), (uint32_t)crc32(0, payload, sizeof payload));
    unsigned char copy[LKB_UIMAGE_HEADER_SIZE];
    memcpy(copy, hdr, sizeof copy);
    memset(copy + 4, 0, 4);
    cr_assert_eq(be32(hdr + 4), (uint32_t)crc32(0, copy, sizeof copy));
    cr_assert_eq(hdr[28], LKB_UIMAGE_OS_LINUX);
    cr_assert_eq(hdr[29], LKB_UIMAGE_ARCH_ARM);

    struct lkb_disk_error err;
    int fd = open(tl_path("k.uimg"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint64_t written = 0;
    cr_assert_eq(lkb_uimage_write_file(fd, 0, &p, tl_path("Image"), &written, &err), 0, "%s", err.msg);
    close(fd);
    cr_assert_eq(written, sizeof payload + LKB_UIMAGE_HEADER_SIZE);
    size_t len;
    char *img = tl_read(tl_path("k.uimg"), &len);
    cr_assert_eq(len, written);
    cr_assert_eq(memcmp(img, hdr, sizeof hdr), 0);
    cr_assert_eq(memcmp(img + sizeof hdr, payload, sizeof payload), 0);
    free(img);
    int st;
    char *out = tl_sh(&st, "dumpimage -l '%s'", tl_path("k.uimg"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "ARM Linux Kernel Image (uncompressed)"), "%s", out);
    cr_assert_not_null(strstr(out, "Load Address: 00200000"), "%s", out);
    free(out);

    fd = open(tl_path("k.uimg"), O_RDWR);
    cr_assert_eq(lkb_uimage_write_file(fd, 0, &p, tl_path("nope"), NULL, &err), -1);
    cr_assert_not_null(strstr(err.msg, "/nope: No such file or directory"), "%s", err.msg);
    close(fd);
}

Test(uimage, script_images)
{
    size_t len;
    unsigned char *img = lkb_uimage_script("echo hi\n", "lkb boot script", &len);
    cr_assert_not_null(img);
    cr_assert_eq(len, LKB_UIMAGE_HEADER_SIZE + 8 + 8);
    cr_assert_eq(be32(img + LKB_UIMAGE_HEADER_SIZE), 8);
    cr_assert_eq(memcmp(img + LKB_UIMAGE_HEADER_SIZE + 8, "echo hi\n", 8), 0);
    tl_write(tl_path("boot.scr"), img, len);
    free(img);
    int st;
    char *out = tl_sh(&st, "dumpimage -l '%s'", tl_path("boot.scr"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "AArch64 Linux Script"), "%s", out);
    free(out);
}
