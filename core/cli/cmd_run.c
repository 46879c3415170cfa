/* `lkb run [qemu] PREFIX|FILE`: LinuxKit's `run qemu` for lkb's outputs.
 * Flags in LinuxKit's spelling; detection, argv and state files live in
 * core/run. lkb execs QEMU, so the exit code, the console and Ctrl-A x
 * are QEMU's own and a signal sent to lkb run reaches the VM's process. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/run.h"
#include "util/str.h"

static const char run_usage[] =
    "Usage: lkb run [qemu] [OPTIONS] PREFIX|FILE\n"
    "\n"
    "Boot an lkb output in QEMU. PREFIX names a kernel+initrd output\n"
    "(PREFIX-kernel, PREFIX-initrd.img, PREFIX-cmdline); FILE an .iso, a disk\n"
    "image (-bios.img, -efi.img, .raw, .qcow2, .vhd, .vmdk), an rpi3-img SD\n"
    "card (.img) or an rpi3 tar. Machine, firmware and drive type come from\n"
    "the files.\n"
    "\n"
    "Options (LinuxKit's spelling):\n"
    "  -arch ARCH          amd64/x86_64 or arm64/aarch64 (default: the image's, else the host's)\n"
    "  -mem MB             memory in MiB (default 1024)\n"
    "  -cpus N             virtual CPUs (default 1)\n"
    "  -disk SPEC          extra disk [file=]PATH[,size=S][,format=F], repeatable;\n"
    "                      created (qcow2) when missing and a size is given\n"
    "  -publish H:G[/P]    forward host port H to guest port G (tcp or udp), repeatable\n"
    "  -networking MODE    user (default) or none\n"
    "  -accel A            kvm or tcg (default: kvm when /dev/kvm opens, else tcg)\n"
    "  -gui                a display window; the serial console stays on stdio\n"
    "  -console-file FILE  the serial console to FILE instead of stdio\n"
    "  -state DIR          VM state: UEFI variables, created disks, pid file\n"
    "                      (default PREFIX-state)\n"
    "  -uefi[=false]       force UEFI (OVMF/AAVMF) or, =false, BIOS (SeaBIOS)\n"
    "  -fw FILE            UEFI firmware code instead of Debian's OVMF/AAVMF\n"
    "lkb extensions:\n"
    "  -append TEXT        extra kernel command line (kernel+initrd)\n"
    "  -machine M          raspi3b (default) or raspi3ap for an SD card\n"
    "  -dtb FILE           device tree for QEMU to hand over (SD card, arm64 kernel)\n"
    "  -dry-run            print the QEMU command line, run nothing\n"
    "\n"
    "The console is QEMU's stdio: Ctrl-A x quits, Ctrl-A h lists the keys.\n"
    "The exit code is QEMU's: 0 when the VM powers off (a reboot ends it too).\n"
    "See lkb-run(1) and docs/run.md.\n";

enum {
    OPT_ARCH = 1000,
    OPT_MEM,
    OPT_CPUS,
    OPT_DISK,
    OPT_PUBLISH,
    OPT_NETWORKING,
    OPT_ACCEL,
    OPT_GUI,
    OPT_CONSOLE_FILE,
    OPT_STATE,
    OPT_APPEND,
    OPT_UEFI,
    OPT_FW,
    OPT_MACHINE,
    OPT_DTB,
    OPT_DRY_RUN,
    OPT_HELP,
};

static const struct option run_options[] = {
    {"arch", required_argument, NULL, OPT_ARCH},
    {"mem", required_argument, NULL, OPT_MEM},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"disk", required_argument, NULL, OPT_DISK},
    {"publish", required_argument, NULL, OPT_PUBLISH},
    {"networking", required_argument, NULL, OPT_NETWORKING},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"gui", optional_argument, NULL, OPT_GUI},
    {"console-file", required_argument, NULL, OPT_CONSOLE_FILE},
    {"state", required_argument, NULL, OPT_STATE},
    {"append", required_argument, NULL, OPT_APPEND},
    {"uefi", optional_argument, NULL, OPT_UEFI},
    {"fw", required_argument, NULL, OPT_FW},
    {"machine", required_argument, NULL, OPT_MACHINE},
    {"dtb", required_argument, NULL, OPT_DTB},
    {"dry-run", optional_argument, NULL, OPT_DRY_RUN},
    {"h", no_argument, NULL, OPT_HELP},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct run_args {
    struct lkb_run_opts o;
    const char *image;
    bool dry_run, help;
};

static void run_args_free(struct run_args *r)
{
    for (size_t i = 0; i < r->o.n_disks; i++) {
        free(r->o.disks[i].path);
        free(r->o.disks[i].format);
    }
    free(r->o.disks);
    free(r->o.publish);
}

static int parse_uint(const char *name, const char *s, unsigned max, unsigned *out,
                      struct lkb_error *err)
{
    char *end;
    errno = 0;
    unsigned long v = (*s >= '0' && *s <= '9') ? strtoul(s, &end, 10) : 0;
    if (v < 1 || v > max || errno || *end)
        return lkb_error_set(err, LKB_ERR_USAGE, "-%s \"%s\": want a whole number, 1 to %u",
                             name, s, max);
    *out = (unsigned)v;
    return 0;
}

static int parse_bool_opt(const char *name, bool *out, struct lkb_error *err)
{
    if (!optarg)
        return *out = true, 0;
    if (lkb_cli_parse_bool(optarg, out, err) < 0)
        return lkb_error_prefix(err, "-%s: ", name);
    return 0;
}

static int parse_run(int argc, char **argv, struct run_args *r, struct lkb_error *err)
{
    optind = 0;
    opterr = 0;
    for (;;) {
        int c = getopt_long_only(argc, argv, ":", run_options, NULL);
        if (c == -1)
            break;
        int rc = 0;
        bool b = false;
        switch (c) {
        case OPT_ARCH: r->o.arch = optarg; break;
        case OPT_MEM: rc = parse_uint("mem", optarg, 1u << 20, &r->o.mem_mb, err); break;
        case OPT_CPUS: rc = parse_uint("cpus", optarg, 256, &r->o.cpus, err); break;
        case OPT_DISK: {
            struct lkb_run_disk *d = realloc(r->o.disks, (r->o.n_disks + 1) * sizeof *d);
            if (!d)
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            r->o.disks = d;
            rc = lkb_run_parse_disk(optarg, &d[r->o.n_disks], err);
            if (rc == 0)
                r->o.n_disks++;
            break;
        }
        case OPT_PUBLISH: {
            char *fwd = NULL;
            if (lkb_run_publish_hostfwd(optarg, &fwd, err) < 0)
                return -1;
            free(fwd);
            char **p = realloc(r->o.publish, (r->o.n_publish + 1) * sizeof *p);
            if (!p)
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            r->o.publish = p;
            p[r->o.n_publish++] = optarg;
            break;
        }
        case OPT_NETWORKING: r->o.networking = optarg; break;
        case OPT_ACCEL: r->o.accel = optarg; break;
        case OPT_GUI: rc = parse_bool_opt("gui", &r->o.gui, err); break;
        case OPT_CONSOLE_FILE: r->o.console_file = optarg; break;
        case OPT_STATE: r->o.state = optarg; break;
        case OPT_APPEND: r->o.append = optarg; break;
        case OPT_UEFI:
            rc = parse_bool_opt("uefi", &b, err);
            r->o.firmware = b ? LKB_RUN_FW_UEFI : LKB_RUN_FW_BIOS;
            break;
        case OPT_FW: r->o.fw = optarg; break;
        case OPT_MACHINE: r->o.machine = optarg; break;
        case OPT_DTB: r->o.dtb = optarg; break;
        case OPT_DRY_RUN: rc = parse_bool_opt("dry-run", &r->dry_run, err); break;
        case OPT_HELP: r->help = true; return 0;
        case ':':
            return lkb_error_set(err, LKB_ERR_USAGE, "flag %s needs a value", argv[optind - 1]);
        default:
            return lkb_error_set(err, LKB_ERR_USAGE, "unknown flag %s", argv[optind - 1]);
        }
        if (rc < 0)
            return -1;
    }
    int i = optind;
    if (i < argc && strcmp(argv[i], "qemu") == 0 && i + 1 < argc)
        i++;
    if (i >= argc)
        return lkb_error_set(err, LKB_ERR_USAGE, "lkb run needs a PREFIX or FILE to boot");
    if (i + 1 < argc)
        return lkb_error_set(err, LKB_ERR_USAGE, "unexpected argument '%s'", argv[i + 1]);
    r->image = argv[i];
    return 0;
}

/* Is prog in $PATH? (execvp would tell only after lkb is gone.) */
static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char *f = lkb_strf("%.*s/%s", (int)n, n ? p : ".", prog);
        bool ok = f && access(f, X_OK) == 0;
        free(f);
        if (ok)
            return true;
        if (!colon)
            return false;
        p = colon + 1;
    }
}

/* Shell-quoted, so -dry-run's line can be pasted. */
static void print_quoted(const struct lkb_strv *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const char *s = a->v[i];
        bool plain = *s != '\0';
        for (const char *p = s; *p && plain; p++)
            plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           "-_./:=,@+%",
                           *p) != NULL;
        fputs(i ? " " : "", stdout);
        if (plain) {
            fputs(s, stdout);
            continue;
        }
        putchar('\'');
        for (const char *p = s; *p; p++)
            if (*p == '\'')
                fputs("'\\''", stdout);
            else
                putchar(*p);
        putchar('\'');
    }
    putchar('\n');
}

int lkb_cmd_run(int argc, char **argv)
{
    struct run_args r;
    struct lkb_error err;
    struct lkb_run_target t;
    struct lkb_strv a = {0};
    char *state = NULL;
    int rc = 0;
    memset(&r, 0, sizeof r);
    memset(&t, 0, sizeof t);
    lkb_error_clear(&err);
    if (parse_run(argc, argv, &r, &err) < 0) {
        fprintf(stderr, "lkb: error: %s\n\n%s", err.msg, run_usage);
        run_args_free(&r);
        return 2;
    }
    if (r.help) {
        fputs(run_usage, stdout);
        run_args_free(&r);
        return 0;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    r.o.kvm_usable = kvm >= 0;
    if (kvm >= 0)
        close(kvm);
    if (lkb_run_detect(r.image, &t, &err) < 0)
        goto fail;
    state = r.o.state ? strdup(r.o.state) : lkb_strf("%s-state", t.prefix);
    if (!state) {
        lkb_error_set(&err, LKB_ERR_INTERNAL, "out of memory");
        goto fail;
    }
    if (lkb_run_qemu_argv(&t, &r.o, state, &a, &err) < 0)
        goto fail;
    if (r.dry_run) {
        print_quoted(&a);
        goto out;
    }
    const char *arch, *package;
    if (lkb_run_resolve_arch(&t, &r.o, &arch, &err) < 0)
        goto fail;
    const char *qemu = lkb_run_qemu_binary(arch, &package);
    if (!in_path(qemu)) {
        lkb_error_set(&err, LKB_ERR_USAGE, "%s not found: install the Debian package %s", qemu,
                      package);
        goto fail;
    }
    if (lkb_run_prepare(&t, &r.o, state, &err) < 0)
        goto fail;
    fflush(NULL);
    execvp(a.v[0], a.v);
    lkb_error_errno(&err, LKB_ERR_IO, errno, "starting %s", a.v[0]);
fail:
    rc = lkb_cli_fail(&err);
out:
    lkb_strv_free(&a);
    lkb_run_target_free(&t);
    free(state);
    run_args_free(&r);
    return rc;
}
