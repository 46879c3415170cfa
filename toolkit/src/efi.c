#define _GNU_SOURCE /* asprintf */
#include <lkb/disk/efi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "error.h"

/* A decompressed kernel larger than this is taken for a corrupt input. */
#define KERNEL_MAX ((size_t)512 << 20)

#define PE_MACHINE_AMD64 0x8664u
#define PE_MACHINE_ARM64 0xaa64u

struct lkb_efi_esp {
    unsigned char *kernel; /* decompressed kernel, or NULL */
    char *loader_conf;
    char *entry;
};

enum lkb_efi_arch lkb_efi_arch_from_oci(const char *arch)
{
    if (arch && strcmp(arch, "amd64") == 0)
        return LKB_EFI_AMD64;
    if (arch && strcmp(arch, "arm64") == 0)
        return LKB_EFI_ARM64;
    return 0;
}

const char *lkb_efi_loader_name(enum lkb_efi_arch arch)
{
    return arch == LKB_EFI_ARM64 ? "systemd-bootaa64.efi" : "systemd-bootx64.efi";
}

const char *lkb_efi_boot_path(enum lkb_efi_arch arch)
{
    return arch == LKB_EFI_ARM64 ? "EFI/BOOT/BOOTAA64.EFI" : "EFI/BOOT/BOOTX64.EFI";
}

static const char *arch_name(enum lkb_efi_arch arch)
{
    return arch == LKB_EFI_ARM64 ? "arm64" : "amd64";
}

/* The PE machine of an "MZ" executable whose first len bytes are b; 0 when
 * it is not a PE file. */
static unsigned pe_machine(const unsigned char *b, size_t len)
{
    if (len < 0x40 || b[0] != 'M' || b[1] != 'Z')
        return 0;
    uint32_t pe = (uint32_t)b[0x3c] | (uint32_t)b[0x3d] << 8 | (uint32_t)b[0x3e] << 16 |
                  (uint32_t)b[0x3f] << 24;
    if (pe > len - 6 || memcmp(b + pe, "PE\0\0", 4) != 0)
        return 0;
    return (unsigned)b[pe + 4] | (unsigned)b[pe + 5] << 8;
}

static int check_pe(const char *what, const unsigned char *b, size_t len, enum lkb_efi_arch arch,
                    struct lkb_disk_error *err)
{
    unsigned want = arch == LKB_EFI_ARM64 ? PE_MACHINE_ARM64 : PE_MACHINE_AMD64;
    unsigned got = pe_machine(b, len);
    if (got == want)
        return 0;
    if (got == 0)
        return disk_error(err, "%s is not an EFI application (no PE header)", what);
    return disk_error(err, "%s is an EFI application for machine 0x%04x, not %s", what, got,
                      arch_name(arch));
}

/* The whole gzip stream at path, in memory. Read with gzread, which also
 * takes concatenated gzip members as one stream (as the kernel does). */
static int gunzip_file(const char *path, unsigned char **out, size_t *out_len,
                       struct lkb_disk_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return disk_errno(err, errno, "%s", path);
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return disk_error(err, "%s: out of memory", path);
    }
    size_t cap = 32u << 20, len = 0;
    unsigned char *buf = malloc(cap);
    int rc = buf ? 0 : disk_error(err, "out of memory");
    while (rc == 0) {
        if (len == cap) {
            if (cap >= KERNEL_MAX) {
                rc = disk_error(err, "%s: decompressed kernel larger than %zu MiB", path,
                                KERNEL_MAX >> 20);
                break;
            }
            unsigned char *n = realloc(buf, cap * 2);
            if (!n) {
                rc = disk_error(err, "out of memory");
                break;
            }
            buf = n;
            cap *= 2;
        }
        size_t want = cap - len > 0x40000000u ? 0x40000000u : cap - len;
        int got = gzread(gz, buf + len, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *m = gzerror(gz, &zerr);
            rc = disk_error(err, "%s: corrupt gzip data: %s", path, m);
        } else if (got == 0) {
            break;
        } else {
            len += (size_t)got;
        }
    }
    gzclose(gz);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* The kernel as the firmware can start it: decompressed when gzip'd,
 * checked to be a PE for the arch. */
static int add_kernel(struct lkb_disk_tree *t, const char *path, const struct lkb_efi_params *p,
                      struct lkb_efi_esp *esp, struct lkb_disk_error *err)
{
    unsigned char head[4096];
    int fd = open(p->kernel_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return disk_errno(err, errno, "kernel %s", p->kernel_path);
    ssize_t n = pread(fd, head, sizeof head, 0);
    int e = errno;
    close(fd);
    if (n < 0)
        return disk_errno(err, e, "kernel %s", p->kernel_path);
    char what[64 + 4096];
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        size_t len = 0; /* gcc -O2 cannot see gunzip_file sets it */
        if (gunzip_file(p->kernel_path, &esp->kernel, &len, err) != 0)
            return disk_prefix(err, "kernel: ");
        snprintf(what, sizeof what, "kernel %s (decompressed)", p->kernel_path);
        if (check_pe(what, esp->kernel, len, p->arch, err) != 0)
            return -1;
        return lkb_disk_tree_add_data(t, path, esp->kernel, len, err);
    }
    snprintf(what, sizeof what, "kernel %s", p->kernel_path);
    if (check_pe(what, head, (size_t)n, p->arch, err) != 0)
        return -1;
    return lkb_disk_tree_add_file(t, path, p->kernel_path, err);
}

/* dir + name ("" dir = name alone), malloc'd. */
static char *join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *s = malloc(dl + nl + 2);
    if (!s)
        return NULL;
    if (dl) {
        memcpy(s, dir, dl);
        s[dl] = '/';
        memcpy(s + dl + 1, name, nl + 1);
    } else {
        memcpy(s, name, nl + 1);
    }
    return s;
}

static int add(struct lkb_disk_tree *t, const char *dir, const char *name, const void *data,
               size_t size, const char *host_path, struct lkb_disk_error *err)
{
    char *path = join(dir, name);
    if (!path)
        return disk_error(err, "out of memory");
    int rc = host_path ? lkb_disk_tree_add_file(t, path, host_path, err)
                       : lkb_disk_tree_add_data(t, path, data, size, err);
    free(path);
    return rc;
}

int lkb_efi_esp_add(struct lkb_disk_tree *tree, const char *dir, const struct lkb_efi_params *p,
                    struct lkb_efi_esp **out, struct lkb_disk_error *err)
{
    *out = NULL;
    if (!dir)
        dir = "";
    if (p->arch != LKB_EFI_AMD64 && p->arch != LKB_EFI_ARM64)
        return disk_error(err, "EFI: unknown architecture %d (amd64 and arm64 are supported)",
                          (int)p->arch);
    if (!p->loader || p->loader_size == 0)
        return disk_error(err, "EFI: no boot loader (%s) given", lkb_efi_loader_name(p->arch));
    const char *cmdline = p->cmdline ? p->cmdline : "";
    if (strpbrk(cmdline, "\r\n"))
        return disk_error(err, "EFI: the kernel command line must be one line");
    if (!p->kernel_path || !p->initrd_path)
        return disk_error(err, "EFI: a kernel and an initrd are required");
    char what[128];
    snprintf(what, sizeof what, "boot loader %s", lkb_efi_loader_name(p->arch));
    if (check_pe(what, p->loader, p->loader_size, p->arch, err) != 0)
        return -1;

    struct lkb_efi_esp *esp = calloc(1, sizeof *esp);
    if (!esp)
        return disk_error(err, "out of memory");
    /* BLS paths are absolute on the ESP. */
    const char *slash = *dir ? "/" : "";
    int rc = 0;
    char *ucode = NULL;
    if (p->ucode_path && asprintf(&ucode, "initrd %s%s/ucode.img\n", slash, dir) < 0)
        ucode = NULL, rc = disk_error(err, "out of memory");
    if (rc == 0 && asprintf(&esp->loader_conf, "default lkb.conf\ntimeout 0\neditor no\n") < 0)
        esp->loader_conf = NULL, rc = disk_error(err, "out of memory");
    if (rc == 0 && asprintf(&esp->entry,
                            "title LinuxKit\nlinux %s%s/kernel\n%sinitrd %s%s/initrd.img\n"
                            "options %s\n",
                            slash, dir, ucode ? ucode : "", slash, dir, cmdline) < 0)
        esp->entry = NULL, rc = disk_error(err, "out of memory");
    free(ucode);
    /* The loader's files are where systemd-boot looks: at the ESP root. */
    if (rc == 0)
        rc = lkb_disk_tree_add_data(tree, lkb_efi_boot_path(p->arch), p->loader, p->loader_size,
                                    err);
    if (rc == 0)
        rc = lkb_disk_tree_add_data(tree, "loader/loader.conf", esp->loader_conf,
                                    strlen(esp->loader_conf), err);
    if (rc == 0)
        rc = lkb_disk_tree_add_data(tree, "loader/entries/lkb.conf", esp->entry,
                                    strlen(esp->entry), err);
    if (rc == 0) {
        char *kpath = join(dir, "kernel");
        rc = kpath ? add_kernel(tree, kpath, p, esp, err) : disk_error(err, "out of memory");
        free(kpath);
    }
    if (rc == 0 && p->ucode_path)
        rc = add(tree, dir, "ucode.img", NULL, 0, p->ucode_path, err);
    if (rc == 0)
        rc = add(tree, dir, "initrd.img", NULL, 0, p->initrd_path, err);
    if (rc != 0) {
        lkb_efi_esp_free(esp);
        return rc;
    }
    *out = esp;
    return 0;
}

void lkb_efi_esp_free(struct lkb_efi_esp *esp)
{
    if (!esp)
        return;
    free(esp->kernel);
    free(esp->loader_conf);
    free(esp->entry);
    free(esp);
}
