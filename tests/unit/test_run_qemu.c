/* lkb run: what each kind of output is detected as (from synthetic files
 * with the same headers as lkb's outputs) and QEMU's argv for each; the
 * boots themselves are in tests/scripts (test_run, test_iso, test_raw,
 * test_rpi3). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/run.h"
#include "util/fs.h"
#include "util/str.h"

static char *dir;

static void setup(void)
{
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-run", &dir, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
    struct lkb_error err;
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

TestSuite(run, .init = setup, .fini = teardown);

/* A file of size bytes, zero but for the patches (offset, bytes, len). */
static char *make_file(const char *name, size_t size, int npatch, ...)
{
    char *path = lkb_strf("%s/%s", dir, name);
    unsigned char *buf = calloc(1, size);
    va_list ap;
    va_start(ap, npatch);
    for (int i = 0; i < npatch; i++) {
        size_t off = va_arg(ap, size_t);
        const char *bytes = va_arg(ap, const char *);
        size_t len = va_arg(ap, size_t);
        memcpy(buf + off, bytes, len);
    }
    va_end(ap);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(buf, 1, size, f), size);
    fclose(f);
    free(buf);
    return path;
}

/* Does argv hold these words in a row? */
static bool has_seq(const struct lkb_strv *a, int n, ...)
{
    const char *want[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        want[i] = va_arg(ap, const char *);
    va_end(ap);
    for (size_t i = 0; i + (size_t)n <= a->n; i++) {
        int k = 0;
        while (k < n && strcmp(a->v[i + (size_t)k], want[k]) == 0)
            k++;
        if (k == n)
            return true;
    }
    return false;
}

static char *joined(const struct lkb_strv *a)
{
    size_t len = 1;
    for (size_t i = 0; i < a->n; i++)
        len += strlen(a->v[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; i < a->n; i++) {
        strcat(s, a->v[i]);
        strcat(s, " ");
    }
    return s;
}

#define ASSERT_SEQ(a, n, ...)                                                                  \
    do {                                                                                       \
        char *j_ = joined(a);                                                                  \
        cr_assert(has_seq(a, n, __VA_ARGS__), "argv lacks the sequence: %s", j_);              \
        free(j_);                                                                              \
    } while (0)

static void argv_ok(const struct lkb_run_target *t, const struct lkb_run_opts *o,
                    struct lkb_strv *a)
{
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_qemu_argv(t, o, "/st", a, &err), 0, "%s", err.msg);
}

/* An ISO's El Torito records: the boot record at sector 17 pointing at
 * the catalog in sector 20; the validation entry's platform, and a
 * section header for a second platform. */
static char *make_iso(const char *name, int first_platform, int second_platform)
{
    char brvd[0x4b] = {0};
    memcpy(brvd + 1, "CD001\1EL TORITO SPECIFICATION", 29);
    brvd[0x47] = 20;
    char cat[128] = {0};
    cat[0] = 1;
    cat[1] = (char)first_platform;
    cat[0x1e] = 0x55;
    cat[0x1f] = (char)0xaa;
    cat[32] = (char)0x88;
    cat[32 + 8] = 24; /* image at sector 24 */
    if (second_platform >= 0) {
        cat[64] = (char)0x91;
        cat[65] = (char)second_platform;
        cat[96] = (char)0x88;
        cat[96 + 8] = 24;
    }
    return make_file(name, 26 * 2048, 3, (size_t)17 * 2048, brvd, sizeof brvd,
                     (size_t)20 * 2048, cat, sizeof cat, (size_t)24 * 2048 + 100,
                     "BOOTAA64EFI", (size_t)11);
}

Test(run, kernel_prefix_amd64)
{
    char *k = make_file("s-kernel", 4096, 1, (size_t)0x202, "HdrS", (size_t)4);
    char *i = make_file("s-initrd.img", 512, 0);
    char *c = make_file("s-cmdline", 0, 0);
    FILE *f = fopen(c, "w");
    fputs("console=ttyS0 a=\"b c\"\n", f);
    fclose(f);
    char *prefix = lkb_strf("%s/s", dir);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(prefix, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.kind, LKB_RUN_KERNEL);
    cr_assert_str_eq(t.arch, "amd64");
    cr_assert_str_eq(t.cmdline, "console=ttyS0 a=\"b c\"");
    struct lkb_run_opts o = {.append = "no_timer_check", .accel = "tcg", .mem_mb = 512,
                             .cpus = 2};
    struct lkb_strv a = {0};
    argv_ok(&t, &o, &a);
    cr_assert_str_eq(a.v[0], "qemu-system-x86_64");
    ASSERT_SEQ(&a, 2, "-M", "q35");
    ASSERT_SEQ(&a, 2, "-m", "512");
    ASSERT_SEQ(&a, 2, "-smp", "2");
    ASSERT_SEQ(&a, 2, "-accel", "tcg");
    char *kk = lkb_strf("%s-kernel", prefix), *ii = lkb_strf("%s-initrd.img", prefix);
    ASSERT_SEQ(&a, 6, "-kernel", kk, "-initrd", ii, "-append",
               "console=ttyS0 a=\"b c\" no_timer_check");
    ASSERT_SEQ(&a, 2, "-serial", "mon:stdio");
    ASSERT_SEQ(&a, 2, "-pidfile", "/st/qemu.pid");
    cr_assert(!has_seq(&a, 1, "-bios"));
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(kk);
    free(ii);
    free(k);
    free(i);
    free(c);
    free(prefix);
}

Test(run, kernel_prefix_arm64_gzip_console_file)
{
    char *k = make_file("a-kernel", 4096, 1, (size_t)0, "\x1f\x8b\x08", (size_t)3);
    char *i = make_file("a-initrd.img", 512, 0);
    char *prefix = lkb_strf("%s/a", dir);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(prefix, &t, &err), 0, "%s", err.msg);
    cr_assert_str_eq(t.arch, "arm64");
    cr_assert_str_eq(t.cmdline, ""); /* no -cmdline file: empty */
    struct lkb_run_opts o = {.accel = "tcg", .console_file = "/x/console"};
    struct lkb_strv a = {0};
    argv_ok(&t, &o, &a);
    cr_assert_str_eq(a.v[0], "qemu-system-aarch64");
    ASSERT_SEQ(&a, 4, "-M", "virt", "-cpu", "max");
    ASSERT_SEQ(&a, 2, "-m", "1024");
    ASSERT_SEQ(&a, 4, "-serial", "file:/x/console", "-monitor", "none");
    cr_assert(!has_seq(&a, 1, "mon:stdio"));
    /* -arch contradicting the kernel is refused. */
    o.arch = "x86_64";
    lkb_strv_free(&a);
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "is an arm64 image"), "%s", err.msg);
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(k);
    free(i);
    free(prefix);
}

Test(run, iso_bios_and_hybrid)
{
    char *iso = make_iso("h.iso", 0, 0xef);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(iso, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.kind, LKB_RUN_ISO);
    cr_assert_eq(t.firmware, LKB_RUN_FW_BIOS);
    struct lkb_run_opts o = {.accel = "tcg"};
    struct lkb_strv a = {0};
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-M", "pc");
    char *drive = lkb_strf("file=%s,if=ide,index=2,media=cdrom,readonly=on,format=raw", iso);
    ASSERT_SEQ(&a, 2, "-drive", drive);
    cr_assert(!has_seq(&a, 1, "-append"));
    lkb_strv_free(&a);
    /* -uefi boots the hybrid's other half: OVMF on q35, VARS in the state. */
    o.firmware = LKB_RUN_FW_UEFI;
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-M", "q35");
    ASSERT_SEQ(&a, 2, "-drive",
               "file=/usr/share/OVMF/OVMF_CODE_4M.fd,if=pflash,format=raw,readonly=on");
    ASSERT_SEQ(&a, 2, "-drive", "file=/st/efi-vars.fd,if=pflash,format=raw");
    lkb_strv_free(&a);
    /* -append has nowhere to go. */
    o.append = "x";
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "-append applies to kernel+initrd only"), "%s", err.msg);
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(drive);
    free(iso);
}

Test(run, iso_efi_arm64_from_its_esp)
{
    char *iso = make_iso("e.iso", 0xef, -1);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(iso, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.firmware, LKB_RUN_FW_UEFI);
    cr_assert_str_eq(t.arch, "arm64");
    struct lkb_run_opts o = {.accel = "tcg"};
    struct lkb_strv a = {0};
    argv_ok(&t, &o, &a);
    cr_assert_str_eq(a.v[0], "qemu-system-aarch64");
    ASSERT_SEQ(&a, 2, "-drive",
               "file=/usr/share/AAVMF/AAVMF_CODE.fd,if=pflash,format=raw,readonly=on");
    ASSERT_SEQ(&a, 2, "-device", "virtio-scsi-pci,id=scsi0");
    char *drive = lkb_strf("file=%s,if=none,id=boot,format=raw,media=cdrom,readonly=on", iso);
    ASSERT_SEQ(&a, 4, "-drive", drive, "-device", "scsi-cd,drive=boot");
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(drive);
    free(iso);
}

Test(run, iso_without_boot_record_is_refused)
{
    char *iso = make_file("data.iso", 40 * 2048, 1, (size_t)16 * 2048 + 1, "CD001", (size_t)5);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(iso, &t, &err), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "no El Torito boot record"), "%s", err.msg);
    lkb_run_target_free(&t);
    free(iso);
}

Test(run, disks_bios_efi_and_sd_card)
{
    struct lkb_run_target t;
    struct lkb_error err = {0};
    struct lkb_run_opts o = {.accel = "tcg"};
    struct lkb_strv a = {0};
    /* Boot code + MBR: SeaBIOS, virtio disk. */
    char *bios = make_file("s-bios.img", 1 << 20, 2, (size_t)0, "\xfa\x31\xc0", (size_t)3,
                           (size_t)510, "\x55\xaa", (size_t)2);
    cr_assert_eq(lkb_run_detect(bios, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.firmware, LKB_RUN_FW_BIOS);
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-M", "pc");
    char *drive = lkb_strf("file=%s,if=virtio,format=raw", bios);
    ASSERT_SEQ(&a, 2, "-drive", drive);
    free(drive);
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    /* A protective MBR and a GPT whose ESP holds BOOTX64.EFI: OVMF. */
    char *efi = make_file("s-efi.img", 1 << 20, 3, (size_t)510, "\x55\xaa", (size_t)2,
                          (size_t)512, "EFI PART", (size_t)8, (size_t)70000, "BOOTX64 EFI",
                          (size_t)11);
    cr_assert_eq(lkb_run_detect(efi, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.firmware, LKB_RUN_FW_UEFI);
    cr_assert_str_eq(t.arch, "amd64");
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-M", "q35");
    lkb_strv_free(&a);
    /* -uefi=false on a disk without BIOS boot code is the user's call. */
    lkb_run_target_free(&t);
    /* No boot code, an MBR with a FAT partition at 1 MiB: a Pi's SD card. */
    char *sd = make_file("p.img", 1 << 20, 3, (size_t)446 + 4, "\x0c", (size_t)1,
                         (size_t)446 + 8, "\x00\x08\x00\x00", (size_t)4, (size_t)510,
                         "\x55\xaa", (size_t)2);
    cr_assert_eq(lkb_run_detect(sd, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.kind, LKB_RUN_RPI3);
    cr_assert_eq(t.boot_part_offset, 1 << 20);
    argv_ok(&t, &o, &a);
    cr_assert_str_eq(a.v[0], "qemu-system-aarch64");
    ASSERT_SEQ(&a, 6, "-M", "raspi3b", "-m", "1024M", "-kernel", "/st/u-boot.bin");
    drive = lkb_strf("file=%s,if=sd,format=raw", sd);
    ASSERT_SEQ(&a, 2, "-drive", drive);
    free(drive);
    /* The console is the mini UART: the second serial port. */
    ASSERT_SEQ(&a, 4, "-serial", "file:/st/serial0.log", "-serial", "mon:stdio");
    cr_assert(!has_seq(&a, 1, "virtio-net-pci,netdev=net0,romfile="));
    lkb_strv_free(&a);
    o.machine = "raspi3ap";
    o.dtb = "/x.dtb";
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 4, "-M", "raspi3ap", "-m", "512M");
    ASSERT_SEQ(&a, 2, "-dtb", "/x.dtb");
    lkb_strv_free(&a);
    o.machine = "raspi4b";
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "raspi3b or raspi3ap"), "%s", err.msg);
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(bios);
    free(efi);
    free(sd);
}

Test(run, container_formats_by_name_and_magic)
{
    /* A raw disk named .img that is really qcow2 is driven as qcow2 (the
     * header check goes through qemu-img, which a fake cannot pass). */
    char *q = make_file("x.img", 4096, 1, (size_t)0, "QFI\xfb", (size_t)4);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(q, &t, &err), -1);
    cr_assert_str_eq(t.drive_format, "qcow2");
    cr_assert(strstr(err.msg, "is not a readable qcow2 image"), "%s", err.msg);
    lkb_run_target_free(&t);
    free(q);
}

Test(run, nothing_to_boot)
{
    char *p = lkb_strf("%s/nothing", dir);
    struct lkb_run_target t;
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_detect(p, &t, &err), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "no such file, and no"), "%s", err.msg);
    lkb_run_target_free(&t);
    /* A prefix with a kernel and no initrd. */
    char *k = make_file("k-kernel", 4096, 0);
    char *kp = lkb_strf("%s/k", dir);
    cr_assert_eq(lkb_run_detect(kp, &t, &err), -1);
    cr_assert(strstr(err.msg, "-initrd.img next to it"), "%s", err.msg);
    lkb_run_target_free(&t);
    char *tar = make_file("p.tar", 4096, 0);
    cr_assert_eq(lkb_run_detect(tar, &t, &err), -1);
    cr_assert(strstr(err.msg, "is not an rpi3 SD card: nothing to boot"), "%s", err.msg);
    lkb_run_target_free(&t);
    free(p);
    free(k);
    free(kp);
    free(tar);
}

Test(run, missing_firmware_names_the_package)
{
    struct lkb_run_target t = {.kind = LKB_RUN_ISO, .firmware = LKB_RUN_FW_UEFI,
                               .path = "/i.iso", .arch = "arm64", .drive_format = "raw"};
    struct lkb_run_opts o = {.accel = "tcg", .fw_root = dir};
    struct lkb_strv a = {0};
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "/usr/share/AAVMF/AAVMF_CODE.fd is missing: install the Debian "
                              "package qemu-efi-aarch64"),
              "%s", err.msg);
    lkb_strv_free(&a);
    t.arch = "amd64";
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "OVMF_CODE_4M.fd is missing: install the Debian package ovmf"),
              "%s", err.msg);
    lkb_strv_free(&a);
    t.firmware = LKB_RUN_FW_BIOS;
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "bios-256k.bin is missing: install the Debian package seabios"),
              "%s", err.msg);
    lkb_strv_free(&a);
}

Test(run, disks_publish_and_networking)
{
    struct lkb_run_disk d[3];
    struct lkb_error err = {0};
    cr_assert_eq(lkb_run_parse_disk("data.img", &d[0], &err), 0, "%s", err.msg);
    cr_assert_str_eq(d[0].path, "data.img");
    cr_assert_eq(lkb_run_parse_disk("size=2G", &d[1], &err), 0, "%s", err.msg);
    cr_assert_eq(d[1].size_mb, 2048);
    cr_assert_null(d[1].path);
    cr_assert_eq(lkb_run_parse_disk("file=x,y.raw,size=512,format=raw", &d[2], &err), -1);
    cr_assert_eq(lkb_run_parse_disk("file=x.raw,size=512,format=raw", &d[2], &err), 0,
                 "%s", err.msg);
    cr_assert_eq(d[2].size_mb, 512);
    cr_assert_str_eq(d[2].format, "raw");
    struct lkb_run_disk bad;
    cr_assert_eq(lkb_run_parse_disk("size=12T", &bad, &err), -1);
    cr_assert(strstr(err.msg, "want e.g. 512M or 2G"), "%s", err.msg);

    char *fwd = NULL;
    cr_assert_eq(lkb_run_publish_hostfwd("8080:80", &fwd, &err), 0);
    cr_assert_str_eq(fwd, "tcp::8080-:80");
    free(fwd);
    cr_assert_eq(lkb_run_publish_hostfwd("5353:53/udp", &fwd, &err), 0);
    cr_assert_str_eq(fwd, "udp::5353-:53");
    free(fwd);
    cr_assert_eq(lkb_run_publish_hostfwd("80", &fwd, &err), -1);
    cr_assert_eq(lkb_run_publish_hostfwd("1:70000", &fwd, &err), -1);
    cr_assert_eq(lkb_run_publish_hostfwd("1:2/sctp", &fwd, &err), -1);

    struct lkb_run_target t = {.kind = LKB_RUN_DISK, .firmware = LKB_RUN_FW_BIOS,
                               .path = "/d,1.qcow2", .arch = "amd64", .drive_format = "qcow2"};
    char *pub[] = {"8080:80", "5353:53/udp"};
    struct lkb_run_opts o = {.accel = "tcg", .disks = d, .n_disks = 3, .publish = pub,
                             .n_publish = 2};
    struct lkb_strv a = {0};
    argv_ok(&t, &o, &a);
    /* A comma in a path is doubled, QEMU's escape. */
    ASSERT_SEQ(&a, 2, "-drive", "file=/d,,1.qcow2,if=virtio,format=qcow2");
    ASSERT_SEQ(&a, 2, "-drive", "file=data.img,if=virtio");
    ASSERT_SEQ(&a, 2, "-drive", "file=/st/disk1.img,if=virtio,format=qcow2");
    ASSERT_SEQ(&a, 2, "-drive", "file=x.raw,if=virtio,format=raw");
    ASSERT_SEQ(&a, 4, "-netdev", "user,id=net0,hostfwd=tcp::8080-:80,hostfwd=udp::5353-:53",
               "-device", "virtio-net-pci,netdev=net0,romfile=");
    lkb_strv_free(&a);
    o.networking = "none";
    cr_assert_eq(lkb_run_qemu_argv(&t, &o, "/st", &a, &err), -1);
    cr_assert(strstr(err.msg, "-publish needs -networking user"), "%s", err.msg);
    lkb_strv_free(&a);
    o.n_publish = 0;
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-nic", "none");
    lkb_strv_free(&a);
    /* kvm by default only when usable; -gui keeps the display. */
    o.accel = NULL;
    o.kvm_usable = false;
    o.gui = true;
    argv_ok(&t, &o, &a);
    ASSERT_SEQ(&a, 2, "-accel", "tcg");
    cr_assert(!has_seq(&a, 1, "-display"));
    cr_assert(!has_seq(&a, 1, "-nodefaults"));
    lkb_strv_free(&a);
    for (int i = 0; i < 3; i++) {
        free(d[i].path);
        free(d[i].format);
    }
}
