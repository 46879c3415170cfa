/* `lkb run qemu`: boot an lkb output in QEMU.
 *
 * Three steps, each in its own file so the middle one is testable without
 * QEMU: detect.c finds out what a PREFIX or FILE is (kernel+initrd, ISO,
 * disk image and its container format, Raspberry Pi SD card) and which
 * firmware it boots with; qemu.c turns that and the flags into QEMU's
 * argv (pure: no file is written, only firmware paths are checked);
 * prepare.c makes the state directory's files (UEFI variable store,
 * extra disks, u-boot from the SD card) before cmd_run.c execs QEMU. */
#ifndef LKB_RUN_RUN_H
#define LKB_RUN_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum lkb_run_kind {
    LKB_RUN_KERNEL, /* PREFIX-kernel, PREFIX-initrd.img, PREFIX-cmdline */
    LKB_RUN_ISO,    /* an ISO 9660 image, booted as a CD-ROM */
    LKB_RUN_DISK,   /* a disk image: raw, qcow2, vpc (VHD) or vmdk */
    LKB_RUN_RPI3,   /* a Raspberry Pi SD card image (rpi3-img), u-boot on its FAT */
};

enum lkb_run_firmware {
    LKB_RUN_FW_AUTO = 0, /* as detected */
    LKB_RUN_FW_DIRECT,   /* QEMU loads the kernel itself (-kernel) */
    LKB_RUN_FW_BIOS,     /* SeaBIOS (amd64) */
    LKB_RUN_FW_UEFI,     /* OVMF (amd64) or AAVMF (arm64) */
    LKB_RUN_FW_UBOOT,    /* u-boot.bin as the kernel (raspi3b/raspi3ap) */
};

/* What detect found. Strings are malloc'd (lkb_run_target_free). */
struct lkb_run_target {
    enum lkb_run_kind kind;
    enum lkb_run_firmware firmware;
    char *path;        /* the image, or the prefix of a kernel+initrd */
    char *prefix;      /* path without its suffix: default state dir PREFIX-state */
    const char *arch;  /* "amd64"/"arm64" if the files tell, else NULL */
    const char *drive_format; /* QEMU block format of a disk/ISO/SD image */
    char *cmdline;     /* kernel+initrd: PREFIX-cmdline's contents */
    unsigned long long boot_part_offset; /* rpi3: byte offset of the FAT partition */
    bool sd_from_tar;  /* rpi3: path is the rpi3 format's tar, booted as STATE/sdcard.img */
};

struct lkb_run_disk {
    char *path;   /* NULL: STATE/diskN.img */
    char *format; /* NULL: qcow2 when created, else QEMU probes */
    unsigned long long size_mb; /* 0: must exist */
};

struct lkb_run_opts {
    const char *arch;         /* -arch, NULL: from the image or the host */
    unsigned mem_mb;          /* -mem, 0: 1024 (512 on raspi3ap, 1024 on raspi3b) */
    unsigned cpus;            /* -cpus, 0: 1 */
    struct lkb_run_disk *disks; /* -disk */
    size_t n_disks;
    char **publish;           /* -publish HOST:GUEST[/tcp|udp] */
    size_t n_publish;
    const char *networking;   /* -networking user|none, NULL: user */
    const char *accel;        /* -accel, NULL: kvm when usable, else tcg */
    bool gui;                 /* -gui */
    const char *console_file; /* -console-file, NULL: stdio */
    const char *state;        /* -state, NULL: PREFIX-state */
    const char *append;       /* -append: extra kernel cmdline (lkb) */
    enum lkb_run_firmware firmware; /* -uefi / -uefi=false */
    const char *fw;           /* -fw: UEFI code file instead of the Debian one */
    const char *machine;      /* -machine (lkb): raspi3b or raspi3ap for an SD card */
    const char *dtb;          /* -dtb (lkb): device tree, as a Pi's firmware hands one */
    const char *fw_root;      /* prefix of firmware paths ("" = /); tests point it elsewhere */
    bool kvm_usable;          /* filled by the caller: /dev/kvm opens */
};

/* A NULL-terminated, growable argv. */
struct lkb_strv {
    char **v;
    size_t n, cap;
};
int lkb_strv_add(struct lkb_strv *s, const char *arg, struct lkb_error *err);
int lkb_strv_addf(struct lkb_strv *s, struct lkb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lkb_strv_free(struct lkb_strv *s);

/* Find out what arg names: an existing file (by suffix, then content) or a
 * kernel+initrd prefix. Usage errors (nothing there, an unknown kind)
 * name what was looked for. */
int lkb_run_detect(const char *arg, struct lkb_run_target *t, struct lkb_error *err);
void lkb_run_target_free(struct lkb_run_target *t);

/* Resolve the architecture (-arch, else the image's, else the host's),
 * in OCI naming; refuses an -arch the image contradicts. */
int lkb_run_resolve_arch(const struct lkb_run_target *t, const struct lkb_run_opts *o,
                         const char **arch, struct lkb_error *err);

/* The firmware the boot uses: -uefi overrides what was detected. */
enum lkb_run_firmware lkb_run_firmware(const struct lkb_run_target *t,
                                       const struct lkb_run_opts *o, const char *arch);

/* Firmware files: code and the variable-store template for UEFI, with the
 * Debian package each comes from. */
struct lkb_run_fw_files {
    const char *code, *vars, *package;
};
const struct lkb_run_fw_files *lkb_run_uefi_files(const char *arch);

/* The QEMU binary for an architecture and its Debian package. */
const char *lkb_run_qemu_binary(const char *arch, const char **package);

/* QEMU's argv (argv[0] the qemu-system binary) for t with o; state is the
 * state directory (already chosen). Checks that firmware files exist,
 * naming the Debian package when one is missing. */
int lkb_run_qemu_argv(const struct lkb_run_target *t, const struct lkb_run_opts *o,
                      const char *state, struct lkb_strv *argv, struct lkb_error *err);

/* Parse -disk [file=]PATH[,size=S][,format=F]; S like LinuxKit: 512M, 2G,
 * a bare number is MiB. */
int lkb_run_parse_disk(const char *arg, struct lkb_run_disk *d, struct lkb_error *err);
/* Parse -publish HOST:GUEST[/tcp|/udp] into QEMU's hostfwd= value. */
int lkb_run_publish_hostfwd(const char *arg, char **hostfwd, struct lkb_error *err);

/* Make the state directory's files: UEFI VARS copy, missing -disk images
 * (qemu-img create), u-boot.bin copied off an SD card's FAT (mtools). */
int lkb_run_prepare(const struct lkb_run_target *t, struct lkb_run_opts *o, const char *state,
                    struct lkb_error *err);

/* The rpi3 format's tar: does it hold a Pi's boot files (bootcode.bin,
 * u-boot.bin)? Then make an SD card image of it (MBR, FAT32 at 1 MiB). */
int lkb_run_sdcard_check_tar(const char *tar, struct lkb_error *err);
int lkb_run_sdcard_make(const char *tar, const char *img, const char *state,
                        struct lkb_error *err);

/* Run a tool to completion, stdout/stderr to `log` (NULL: inherit). A
 * missing tool is an error naming its Debian package. */
int lkb_run_tool(char *const argv[], const char *package, const char *log,
                 struct lkb_error *err);

#endif
