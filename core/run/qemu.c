/* QEMU's command line for a detected output (run.h). Pure apart from
 * checking that firmware files exist, so the unit tests assert the argv
 * of every kind of output without starting QEMU.
 *
 * Machines and drives follow what the boot tests proved on QEMU 7.2
 * (shared/spec/boot-facts.md): SeaBIOS on `pc`, OVMF on `q35` with the
 * 4M pflash pair, AAVMF on `virt -cpu max` with disks on virtio-scsi,
 * raspi3b/raspi3ap with u-boot.bin as the kernel and the SD card on the
 * SD controller, the console on the mini UART (the second serial port). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/run.h"
#include "util/arch.h"
#include "util/str.h"

int lkb_strv_add(struct lkb_strv *s, const char *arg, struct lkb_error *err)
{
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(arg)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    s->v[++s->n] = NULL;
    return 0;
}

int lkb_strv_addf(struct lkb_strv *s, struct lkb_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = lkb_strv_add(s, p, err);
    free(p);
    return rc;
}

void lkb_strv_free(struct lkb_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static const struct lkb_run_fw_files uefi_amd64 = {"/usr/share/OVMF/OVMF_CODE_4M.fd",
                                                   "/usr/share/OVMF/OVMF_VARS_4M.fd", "ovmf"},
                                     uefi_arm64 = {"/usr/share/AAVMF/AAVMF_CODE.fd",
                                                   "/usr/share/AAVMF/AAVMF_VARS.fd",
                                                   "qemu-efi-aarch64"};
#define SEABIOS "/usr/share/seabios/bios-256k.bin"

const struct lkb_run_fw_files *lkb_run_uefi_files(const char *arch)
{
    return strcmp(arch, "arm64") == 0 ? &uefi_arm64 : &uefi_amd64;
}

const char *lkb_run_qemu_binary(const char *arch, const char **package)
{
    bool arm = strcmp(arch, "arm64") == 0;
    if (package)
        *package = arm ? "qemu-system-arm" : "qemu-system-x86";
    return arm ? "qemu-system-aarch64" : "qemu-system-x86_64";
}

int lkb_run_resolve_arch(const struct lkb_run_target *t, const struct lkb_run_opts *o,
                         const char **arch, struct lkb_error *err)
{
    const char *want = NULL;
    if (o->arch) {
        const char *u = lkb_arch_to_uname(o->arch);
        if (!u || (strcmp(u, "x86_64") != 0 && strcmp(u, "aarch64") != 0))
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "-arch %s: lkb run boots amd64 (x86_64) and arm64 (aarch64)",
                                 o->arch);
        want = strcmp(u, "x86_64") == 0 ? "amd64" : "arm64";
    }
    if (want && t->arch && strcmp(want, t->arch) != 0)
        return lkb_error_set(err, LKB_ERR_USAGE, "-arch %s, but %s is an %s image", o->arch,
                             t->path, t->arch);
    *arch = want ? want : t->arch ? t->arch : lkb_arch_host();
    if (strcmp(*arch, "amd64") != 0 && strcmp(*arch, "arm64") != 0)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "cannot boot for host architecture %s: give -arch amd64 or arm64",
                             *arch);
    return 0;
}

enum lkb_run_firmware lkb_run_firmware(const struct lkb_run_target *t,
                                       const struct lkb_run_opts *o, const char *arch)
{
    if (t->kind == LKB_RUN_KERNEL || t->kind == LKB_RUN_RPI3)
        return t->firmware;
    if (o->firmware != LKB_RUN_FW_AUTO)
        return o->firmware;
    /* SeaBIOS is x86 only: an arm64 boot of a hybrid image is UEFI's. */
    if (t->firmware == LKB_RUN_FW_BIOS && strcmp(arch, "arm64") == 0)
        return LKB_RUN_FW_UEFI;
    return t->firmware;
}

static bool exists(const char *root, const char *path)
{
    char *p = lkb_strf("%s%s", root, path);
    struct stat st;
    bool ok = p && stat(p, &st) == 0;
    free(p);
    return ok;
}

/* QEMU's option syntax doubles a comma inside a value. */
static char *qemu_escape(const char *s)
{
    size_t n = strlen(s), commas = 0;
    for (size_t i = 0; i < n; i++)
        commas += s[i] == ',';
    char *o = malloc(n + commas + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        *p++ = s[i];
        if (s[i] == ',')
            *p++ = ',';
    }
    *p = '\0';
    return o;
}

/* -drive with an escaped file= and the rest of the options. */
static int add_drive(struct lkb_strv *a, const char *file, const char *opts,
                     struct lkb_error *err)
{
    char *f = qemu_escape(file);
    if (!f)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_strv_add(a, "-drive", err);
    if (rc == 0)
        rc = lkb_strv_addf(a, err, "file=%s,%s", f, opts);
    free(f);
    return rc;
}

int lkb_run_publish_hostfwd(const char *arg, char **hostfwd, struct lkb_error *err)
{
    const char *proto = "tcp";
    char *copy = strdup(arg);
    if (!copy)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    char *slash = strchr(copy, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
    }
    char *colon = strchr(copy, ':');
    unsigned long host = 0, guest = 0;
    char *end1 = NULL, *end2 = NULL;
    if (colon) {
        *colon = '\0';
        host = strtoul(copy, &end1, 10);
        guest = strtoul(colon + 1, &end2, 10);
    }
    int rc = 0;
    if (!colon || !*copy || *end1 || !colon[1] || *end2 || host < 1 || host > 65535 ||
        guest < 1 || guest > 65535 || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
        rc = lkb_error_set(err, LKB_ERR_USAGE,
                           "-publish %s: want HOST:GUEST[/tcp|/udp] with ports 1 to 65535", arg);
    else if (!(*hostfwd = lkb_strf("%s::%lu-:%lu", proto, host, guest)))
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(copy);
    return rc;
}

/* LinuxKit's disk sizes: 512M, 2G, a bare number of MiB. */
static int parse_size_mb(const char *s, unsigned long long *mb, struct lkb_error *err)
{
    char *end;
    unsigned long long n = (*s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (n && (!strcmp(end, "") || !strcmp(end, "M")))
        *mb = n;
    else if (n && !strcmp(end, "G") && n < (1ull << 40))
        *mb = n * 1024;
    else
        return lkb_error_set(err, LKB_ERR_USAGE, "-disk size=%s: want e.g. 512M or 2G", s);
    return 0;
}

int lkb_run_parse_disk(const char *arg, struct lkb_run_disk *d, struct lkb_error *err)
{
    memset(d, 0, sizeof *d);
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        char **dst = NULL;
        const char *v = tok;
        if (!strncmp(tok, "file=", 5))
            dst = &d->path, v = tok + 5;
        else if (!strncmp(tok, "format=", 7))
            dst = &d->format, v = tok + 7;
        else if (!strncmp(tok, "size=", 5))
            rc = parse_size_mb(tok + 5, &d->size_mb, err);
        else if (strchr(tok, '=') || d->path)
            rc = lkb_error_set(err, LKB_ERR_USAGE,
                               "-disk %s: unknown part \"%s\" (want [file=]PATH[,size=S]"
                               "[,format=F])",
                               arg, tok);
        else
            dst = &d->path;
        if (dst && rc == 0) {
            free(*dst);
            if (!*v)
                rc = lkb_error_set(err, LKB_ERR_USAGE, "-disk %s: empty value in \"%s\"", arg,
                                   tok);
            else if (!(*dst = strdup(v)))
                rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
    }
    free(copy);
    if (rc == 0 && !d->path && !d->size_mb)
        rc = lkb_error_set(err, LKB_ERR_USAGE, "-disk %s: give a file, a size or both", arg);
    if (rc < 0) {
        free(d->path);
        free(d->format);
        memset(d, 0, sizeof *d);
    }
    return rc;
}

static int missing(const char *root, const char *file, const char *package,
                   struct lkb_error *err)
{
    return lkb_error_set(err, LKB_ERR_USAGE, "%s%s is missing: install the Debian package %s",
                         root, file, package);
}

static int add_network(struct lkb_strv *a, const struct lkb_run_opts *o, bool raspi,
                       struct lkb_error *err)
{
    const char *mode = o->networking ? o->networking : "user";
    if (strcmp(mode, "none") == 0) {
        if (o->n_publish)
            return lkb_error_set(err, LKB_ERR_USAGE, "-publish needs -networking user");
        return raspi ? 0 : lkb_strv_add(a, "-nic", err) || lkb_strv_add(a, "none", err) ? -1 : 0;
    }
    if (strcmp(mode, "user") != 0)
        return lkb_error_set(err, LKB_ERR_USAGE, "-networking %s: lkb run has user and none",
                             mode);
    if (raspi) {
        if (o->n_publish)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "-publish: QEMU's raspi3 machines have no network device");
        return 0;
    }
    char *netdev = strdup("user,id=net0");
    for (size_t i = 0; netdev && i < o->n_publish; i++) {
        char *fwd = NULL, *next;
        if (lkb_run_publish_hostfwd(o->publish[i], &fwd, err) < 0) {
            free(netdev);
            return -1;
        }
        next = lkb_strf("%s,hostfwd=%s", netdev, fwd);
        free(fwd);
        free(netdev);
        netdev = next;
    }
    if (!netdev)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* romfile= : no iPXE option ROM, so the firmware never tries a network
     * boot (and ipxe-qemu need not be installed). */
    int rc = lkb_strv_add(a, "-netdev", err) || lkb_strv_add(a, netdev, err) ||
                     lkb_strv_add(a, "-device", err) ||
                     lkb_strv_add(a, "virtio-net-pci,netdev=net0,romfile=", err)
                 ? -1
                 : 0;
    free(netdev);
    return rc;
}

/* The image lkb run boots, on the bus its firmware reads. */
static int add_boot_media(struct lkb_strv *a, const struct lkb_run_target *t, bool arm,
                          struct lkb_error *err)
{
    bool cd = t->kind == LKB_RUN_ISO;
    char opts[96];
    if (arm) {
        /* AAVMF reads CDs and disks on virtio-scsi (boot-facts.md). */
        snprintf(opts, sizeof opts, "if=none,id=boot,format=%s%s", t->drive_format,
                 cd ? ",media=cdrom,readonly=on" : "");
        if (lkb_strv_add(a, "-device", err) || lkb_strv_add(a, "virtio-scsi-pci,id=scsi0", err) ||
            add_drive(a, t->path, opts, err) || lkb_strv_add(a, "-device", err) ||
            lkb_strv_add(a, cd ? "scsi-cd,drive=boot" : "scsi-hd,drive=boot", err))
            return -1;
        return 0;
    }
    if (cd)
        snprintf(opts, sizeof opts, "if=ide,index=2,media=cdrom,readonly=on,format=raw");
    else
        snprintf(opts, sizeof opts, "if=virtio,format=%s", t->drive_format);
    return add_drive(a, t->path, opts, err);
}

static int add_disks(struct lkb_strv *a, const struct lkb_run_opts *o, const char *state,
                     struct lkb_error *err)
{
    for (size_t i = 0; i < o->n_disks; i++) {
        const struct lkb_run_disk *d = &o->disks[i];
        char *def = NULL;
        const char *path = d->path;
        if (!path) {
            /* LinuxKit's names: disk.img, disk1.img, ... */
            def = i ? lkb_strf("%s/disk%zu.img", state, i) : lkb_strf("%s/disk.img", state);
            if (!(path = def))
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        char opts[64];
        const char *fmt = d->format ? d->format : d->size_mb ? "qcow2" : NULL;
        if (fmt && strlen(fmt) > 16) {
            free(def);
            return lkb_error_set(err, LKB_ERR_USAGE, "-disk format=%s: unknown format", fmt);
        }
        snprintf(opts, sizeof opts, "if=virtio%s%s", fmt ? ",format=" : "", fmt ? fmt : "");
        int rc = add_drive(a, path, opts, err);
        free(def);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int add_uefi(struct lkb_strv *a, const struct lkb_run_opts *o, const char *arch,
                    const char *state, struct lkb_error *err)
{
    const struct lkb_run_fw_files *fw = lkb_run_uefi_files(arch);
    const char *root = o->fw_root ? o->fw_root : "";
    if (o->fw) {
        struct stat st;
        if (stat(o->fw, &st) != 0)
            return lkb_error_set(err, LKB_ERR_USAGE, "-fw %s: no such file", o->fw);
    } else if (!exists(root, fw->code)) {
        return missing(root, fw->code, fw->package, err);
    }
    if (!exists(root, fw->vars))
        return missing(root, fw->vars, fw->package, err);
    char *code = o->fw ? lkb_strf("%s", o->fw) : lkb_strf("%s%s", root, fw->code);
    char *vars = lkb_strf("%s/efi-vars.fd", state);
    int rc = code && vars ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = add_drive(a, code, "if=pflash,format=raw,readonly=on", err);
    if (rc == 0)
        rc = add_drive(a, vars, "if=pflash,format=raw", err);
    free(code);
    free(vars);
    return rc;
}

/* The console: QEMU's stdio with its Ctrl-A escapes (Ctrl-A x quits), or a
 * file. The Pi's console is its mini UART, QEMU's second serial port. */
static int add_console(struct lkb_strv *a, const struct lkb_run_opts *o, bool raspi,
                       const char *state, struct lkb_error *err)
{
    if (!o->gui && (lkb_strv_add(a, "-display", err) || lkb_strv_add(a, "none", err)))
        return -1;
    if (raspi && (lkb_strv_add(a, "-serial", err) ||
                  lkb_strv_addf(a, err, "file:%s/serial0.log", state)))
        return -1;
    if (o->console_file)
        return lkb_strv_add(a, "-serial", err) ||
                       lkb_strv_addf(a, err, "file:%s", o->console_file) ||
                       lkb_strv_add(a, "-monitor", err) || lkb_strv_add(a, "none", err)
                   ? -1
                   : 0;
    return lkb_strv_add(a, "-serial", err) || lkb_strv_add(a, "mon:stdio", err) ? -1 : 0;
}

static int add_kernel(struct lkb_strv *a, const struct lkb_run_target *t,
                      const struct lkb_run_opts *o, struct lkb_error *err)
{
    char *cmdline = o->append && *o->append
                        ? lkb_strf("%s%s%s", t->cmdline, *t->cmdline ? " " : "", o->append)
                        : lkb_strf("%s", t->cmdline);
    int rc = cmdline ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = lkb_strv_add(a, "-kernel", err) || lkb_strv_addf(a, err, "%s-kernel", t->path) ||
                     lkb_strv_add(a, "-initrd", err) ||
                     lkb_strv_addf(a, err, "%s-initrd.img", t->path) ||
                     lkb_strv_add(a, "-append", err) || lkb_strv_add(a, cmdline, err)
                 ? -1
                 : 0;
    free(cmdline);
    return rc;
}

static int add_raspi(struct lkb_strv *a, const struct lkb_run_target *t,
                     const struct lkb_run_opts *o, const char *state, struct lkb_error *err)
{
    const char *machine = o->machine ? o->machine : "raspi3b";
    if (strcmp(machine, "raspi3b") != 0 && strcmp(machine, "raspi3ap") != 0)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "-machine %s: an SD card boots on raspi3b or raspi3ap", machine);
    if (o->n_disks)
        return lkb_error_set(err, LKB_ERR_USAGE, "-disk: QEMU's %s has only the SD card",
                             machine);
    if (o->cpus > 1)
        return lkb_error_set(err, LKB_ERR_USAGE, "-cpus: QEMU's %s has a fixed 4 cores",
                             machine);
    /* The machines have fixed memory: 1 GiB on the 3B, 512 MiB on the 3A+. */
    unsigned mem = strcmp(machine, "raspi3ap") == 0 ? 512 : 1024;
    if (o->mem_mb && o->mem_mb != mem)
        return lkb_error_set(err, LKB_ERR_USAGE, "-mem %u: QEMU's %s has %u MiB", o->mem_mb,
                             machine, mem);
    if (lkb_strv_add(a, "-M", err) || lkb_strv_add(a, machine, err) ||
        lkb_strv_add(a, "-m", err) || lkb_strv_addf(a, err, "%uM", mem) ||
        lkb_strv_add(a, "-kernel", err) || lkb_strv_addf(a, err, "%s/u-boot.bin", state))
        return -1;
    char *card = t->sd_from_tar ? lkb_strf("%s/sdcard.img", state) : strdup(t->path);
    int rc = card ? add_drive(a, card, "if=sd,format=raw", err)
                  : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(card);
    return rc;
}

int lkb_run_qemu_argv(const struct lkb_run_target *t, const struct lkb_run_opts *o,
                      const char *state, struct lkb_strv *a, struct lkb_error *err)
{
    const char *arch;
    if (lkb_run_resolve_arch(t, o, &arch, err) < 0)
        return -1;
    enum lkb_run_firmware fw = lkb_run_firmware(t, o, arch);
    bool arm = strcmp(arch, "arm64") == 0, raspi = t->kind == LKB_RUN_RPI3;
    const char *root = o->fw_root ? o->fw_root : "";
    if (o->append && t->kind != LKB_RUN_KERNEL)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "-append applies to kernel+initrd only: %s carries its own "
                             "kernel command line",
                             t->path);
    if (o->dtb && !raspi && !(arm && t->kind == LKB_RUN_KERNEL))
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "-dtb applies to an SD card or an arm64 kernel+initrd");
    if (o->machine && !raspi)
        return lkb_error_set(err, LKB_ERR_USAGE, "-machine applies to an SD card (rpi3-img)");
    if (fw == LKB_RUN_FW_BIOS && arm)
        return lkb_error_set(err, LKB_ERR_USAGE, "%s boots with a BIOS, which arm64 lacks",
                             t->path);
    if (fw == LKB_RUN_FW_BIOS && !exists(root, SEABIOS))
        return missing(root, SEABIOS, "seabios", err);
    const char *accel = o->accel;
    if (!accel) {
        /* KVM only for the host's own architecture and when it opens. */
        accel = o->kvm_usable && strcmp(arch, lkb_arch_host()) == 0 && !raspi ? "kvm" : "tcg";
    } else if (strcmp(accel, "kvm") != 0 && strcmp(accel, "tcg") != 0) {
        return lkb_error_set(err, LKB_ERR_USAGE, "-accel %s: want kvm or tcg", accel);
    }
    if (o->mem_mb && o->mem_mb < 64 && !raspi)
        return lkb_error_set(err, LKB_ERR_USAGE, "-mem %u: want at least 64 MiB", o->mem_mb);

    if (lkb_strv_add(a, lkb_run_qemu_binary(arch, NULL), err))
        return -1;
    if (raspi) {
        if (add_raspi(a, t, o, state, err))
            return -1;
    } else {
        const char *machine = arm ? "virt" : fw == LKB_RUN_FW_BIOS ? "pc" : "q35";
        if (lkb_strv_add(a, "-M", err) || lkb_strv_add(a, machine, err) ||
            (arm && (lkb_strv_add(a, "-cpu", err) ||
                     lkb_strv_add(a, strcmp(accel, "kvm") == 0 ? "host" : "max", err))) ||
            lkb_strv_add(a, "-m", err) || lkb_strv_addf(a, err, "%u", o->mem_mb ? o->mem_mb : 1024) ||
            lkb_strv_add(a, "-smp", err) || lkb_strv_addf(a, err, "%u", o->cpus ? o->cpus : 1))
            return -1;
    }
    if (lkb_strv_add(a, "-accel", err) || lkb_strv_add(a, accel, err) ||
        lkb_strv_add(a, "-no-reboot", err) || lkb_strv_add(a, "-pidfile", err) ||
        lkb_strv_addf(a, err, "%s/qemu.pid", state))
        return -1;
    if (!o->gui && lkb_strv_add(a, "-nodefaults", err))
        return -1;
    if (o->dtb && (lkb_strv_add(a, "-dtb", err) || lkb_strv_add(a, o->dtb, err)))
        return -1;
    if (fw == LKB_RUN_FW_UEFI && add_uefi(a, o, arch, state, err) < 0)
        return -1;
    if (t->kind == LKB_RUN_KERNEL && add_kernel(a, t, o, err) < 0)
        return -1;
    if ((t->kind == LKB_RUN_ISO || t->kind == LKB_RUN_DISK) && add_boot_media(a, t, arm, err) < 0)
        return -1;
    if (!raspi && (add_disks(a, o, state, err) < 0 || lkb_strv_add(a, "-device", err) ||
                   lkb_strv_add(a, "virtio-rng-pci", err)))
        return -1;
    if (add_network(a, o, raspi, err) < 0 || add_console(a, o, raspi, state, err) < 0)
        return -1;
    return 0;
}
