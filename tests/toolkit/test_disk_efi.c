/* EFI System Partition contents: systemd-boot at the removable-media path,
 * loader.conf and the BLS entry (with and without microcode), the amd64
 * kernel as is, the arm64 gzip'd kernel decompressed, all written to a FAT
 * image and read back with mtools; same inputs, same bytes; and the
 * failures: wrong-arch loader, not a PE, corrupt gzip, a two-line command
 * line, a missing kernel. With Debian's systemd-boot-efi installed, its
 * real loader passes the PE check. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lkb/disk/efi.h>
#include <lkb/disk/fat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "disk_testlib.h"

#define MiB (UINT64_C(1) << 20)

TestSuite(efi, .fini = tl_cleanup);

/* A minimal PE image of `size` bytes for machine (0x8664, 0xaa64). */
static unsigned char *fake_pe(unsigned machine, size_t size)
{
    unsigned char *b = calloc(1, size);
    cr_assert_not_null(b);
    for (size_t i = 0x100; i < size; i++)
        b[i] = (unsigned char)(i * 13 + i / 509);
    b[0] = 'M';
    b[1] = 'Z';
    b[0x3c] = 0x80;
    memcpy(b + 0x80, "PE\0\0", 4);
    b[0x84] = (unsigned char)machine;
    b[0x85] = (unsigned char)(machine >> 8);
    return b;
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb9");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(gz), Z_OK);
}

/* Build the ESP for p into a FAT image at img; returns 0 or -1 (err). */
static int build(const char *img, const struct lkb_efi_params *p, struct lkb_disk_error *err)
{
    struct lkb_disk_tree *t = lkb_disk_tree_new();
    struct lkb_efi_esp *esp = NULL;
    int rc = lkb_efi_esp_add(t, "", p, &esp, err);
    if (rc == 0) {
        struct lkb_fat_opts o = {.label = "EFI", .seed = "efi-test", .mtime = 1700000000};
        int fd = tl_image(img, 64 * MiB);
        rc = lkb_fat_write(fd, 0, 64 * MiB, &o, t, err);
        close(fd);
    }
    lkb_efi_esp_free(esp);
    lkb_disk_tree_free(t);
    return rc;
}

static char *mtype(const char *img, const char *path)
{
    int st;
    char *out = tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mtype -i '%s' '::%s'", img, path);
    cr_assert_eq(st, 0, "%s", out);
    return out;
}

static void same_bytes(const char *img, const char *path, const void *want, size_t len)
{
    int st;
    free(tl_sh(&st, "MTOOLS_SKIP_CHECK=1 mcopy -o -i '%s' '::%s' '%s'", img, path,
               tl_path("out.bin")));
    cr_assert_eq(st, 0, "mcopy %s", path);
    size_t got;
    char *b = tl_read(tl_path("out.bin"), &got);
    cr_assert_eq(got, len, "%s: %zu bytes, want %zu", path, got, len);
    cr_assert_eq(memcmp(b, want, len), 0, "%s differs", path);
    free(b);
}

Test(efi, amd64_systemd_boot_entry_and_plain_kernel)
{
    size_t ksz = 3 * MiB + 123, lsz = 100000;
    unsigned char *k = fake_pe(0x8664, ksz), *loader = fake_pe(0x8664, lsz);
    tl_write(tl_path("bzImage"), k, ksz);
    tl_write(tl_path("initrd"), "initrd-bytes", 12);
    tl_write(tl_path("ucode"), "ucode-bytes", 11);
    struct lkb_efi_params p = {.arch = lkb_efi_arch_from_oci("amd64"), .kernel_path = tl_path("bzImage"),
                               .initrd_path = tl_path("initrd"), .ucode_path = tl_path("ucode"),
                               .cmdline = "console=ttyS0 quiet", .loader = loader, .loader_size = lsz};
    struct lkb_disk_error err;
    cr_assert_eq(build(tl_path("esp.img"), &p, &err), 0, "%s", err.msg);
    const char *img = tl_path("esp.img");
    int st;
    char *out = tl_sh(&st, "fsck.fat -n '%s'", img);
    cr_assert_eq(st, 0, "%s", out);
    free(out);
    same_bytes(img, "EFI/BOOT/BOOTX64.EFI", loader, lsz);
    same_bytes(img, "kernel", k, ksz);
    same_bytes(img, "initrd.img", "initrd-bytes", 12);
    same_bytes(img, "ucode.img", "ucode-bytes", 11);
    out = mtype(img, "loader/loader.conf");
    cr_assert_str_eq(out, "default lkb.conf\ntimeout 0\neditor no\n");
    free(out);
    out = mtype(img, "loader/entries/lkb.conf");
    cr_assert_str_eq(out, "title LinuxKit\nlinux /kernel\ninitrd /ucode.img\ninitrd /initrd.img\n"
                          "options console=ttyS0 quiet\n");
    free(out);

    /* Same inputs, same bytes. */
    cr_assert_eq(build(tl_path("esp2.img"), &p, &err), 0, "%s", err.msg);
    cr_assert(tl_same_file(img, tl_path("esp2.img")));
    free(k);
    free(loader);
}

Test(efi, arm64_gzip_kernel_is_decompressed_without_ucode)
{
    size_t ksz = 5 * MiB + 7, lsz = 70000;
    unsigned char *k = fake_pe(0xaa64, ksz), *loader = fake_pe(0xaa64, lsz);
    write_gz(tl_path("vmlinuz"), k, ksz);
    tl_write(tl_path("initrd"), "i", 1);
    struct lkb_efi_params p = {.arch = LKB_EFI_ARM64, .kernel_path = tl_path("vmlinuz"),
                               .initrd_path = tl_path("initrd"), .cmdline = "console=ttyAMA0",
                               .loader = loader, .loader_size = lsz};
    struct lkb_disk_error err;
    cr_assert_eq(build(tl_path("esp.img"), &p, &err), 0, "%s", err.msg);
    same_bytes(tl_path("esp.img"), "EFI/BOOT/BOOTAA64.EFI", loader, lsz);
    same_bytes(tl_path("esp.img"), "kernel", k, ksz);
    char *out = mtype(tl_path("esp.img"), "loader/entries/lkb.conf");
    cr_assert_str_eq(out, "title LinuxKit\nlinux /kernel\ninitrd /initrd.img\noptions console=ttyAMA0\n");
    free(out);
    cr_assert_str_eq(lkb_efi_loader_name(LKB_EFI_ARM64), "systemd-bootaa64.efi");
    cr_assert_str_eq(lkb_efi_boot_path(LKB_EFI_AMD64), "EFI/BOOT/BOOTX64.EFI");
    cr_assert_eq(lkb_efi_arch_from_oci("riscv64"), 0);
    free(k);
    free(loader);
}

Test(efi, errors_name_the_problem)
{
    unsigned char *a = fake_pe(0x8664, 4096), *r = fake_pe(0xaa64, 4096);
    tl_write(tl_path("k64"), a, 4096);
    tl_write(tl_path("notpe"), "just text, not a kernel", 24);
    tl_write(tl_path("bad.gz"), "\x1f\x8b\x08\x00garbage-garbage-garbage", 27);
    tl_write(tl_path("initrd"), "i", 1);
    struct lkb_disk_error err;
    struct lkb_efi_params p = {.arch = LKB_EFI_AMD64, .kernel_path = tl_path("k64"),
                               .initrd_path = tl_path("initrd"), .loader = r, .loader_size = 4096};
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "machine 0xaa64, not amd64"), "%s", err.msg);

    p.loader = a;
    p.cmdline = "a\nb";
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "one line"), "%s", err.msg);

    p.cmdline = NULL;
    p.kernel_path = tl_path("notpe");
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "not an EFI application"), "%s", err.msg);

    p.arch = LKB_EFI_ARM64;
    p.loader = r;
    p.kernel_path = tl_path("bad.gz");
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "kernel: "), "%s", err.msg);

    p.kernel_path = tl_path("missing");
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "missing"), "%s", err.msg);

    p.loader = NULL;
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "systemd-bootaa64.efi"), "%s", err.msg);
    p.arch = 7;
    cr_assert_eq(build(tl_path("e.img"), &p, &err), -1);
    cr_assert_not_null(strstr(err.msg, "unknown architecture"), "%s", err.msg);
    free(a);
    free(r);
}

Test(efi, debian_systemd_boot_passes_the_pe_check)
{
    const char *real = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
    if (access(real, R_OK) != 0)
        cr_skip_test("%s not installed (systemd-boot-efi)", real);
    size_t lsz;
    char *loader = tl_read(real, &lsz);
    unsigned char *k = fake_pe(0x8664, 4096);
    tl_write(tl_path("k"), k, 4096);
    tl_write(tl_path("initrd"), "i", 1);
    struct lkb_efi_params p = {.arch = LKB_EFI_AMD64, .kernel_path = tl_path("k"),
                               .initrd_path = tl_path("initrd"), .loader = loader, .loader_size = lsz};
    struct lkb_disk_error err;
    cr_assert_eq(build(tl_path("esp.img"), &p, &err), 0, "%s", err.msg);
    free(loader);
    free(k);
}
