/* The state directory's files, made before QEMU starts: a copy of the
 * UEFI variable store (the firmware writes to it; the Debian template is
 * read-only and shared), -disk images that do not exist yet, and the SD
 * card's u-boot.bin, which QEMU loads as the kernel where a Pi's GPU
 * firmware would. Existing files are kept, so a state directory carries a
 * VM's UEFI variables and disks from one run to the next (as LinuxKit). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run.h"
#include "util/fs.h"
#include "util/str.h"

static int copy_file(const char *src, const char *dst, struct lkb_error *err)
{
    struct lkb_atomic_file f;
    if (lkb_atomic_file_open(&f, dst, 0644, err) < 0)
        return -1;
    if (lkb_fs_copy_into(f.fd, src, dst, err) < 0) {
        lkb_atomic_file_abort(&f);
        return -1;
    }
    return lkb_atomic_file_commit(&f, err);
}

static int make_disks(struct lkb_run_opts *o, const char *state, struct lkb_error *err)
{
    for (size_t i = 0; i < o->n_disks; i++) {
        struct lkb_run_disk *d = &o->disks[i];
        if (!d->path && !(d->path = i ? lkb_strf("%s/disk%zu.img", state, i)
                                      : lkb_strf("%s/disk.img", state)))
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (access(d->path, F_OK) == 0)
            continue;
        if (!d->size_mb)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "-disk %s does not exist: give size= to create it", d->path);
        if (!d->format && !(d->format = strdup("qcow2")))
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        char *size = lkb_strf("%lluM", d->size_mb), *log = lkb_fs_join(state, "qemu-img.log");
        char *argv[] = {"qemu-img", "create", "-q", "-f", d->format, d->path, size, NULL};
        int rc = size && log ? lkb_run_tool(argv, "qemu-utils", log, err)
                             : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(size);
        free(log);
        if (rc < 0)
            return lkb_error_prefix(err, "creating -disk %s: ", d->path);
    }
    return 0;
}

/* u-boot.bin off the SD card's FAT partition, read by mtools at the
 * partition's offset (image@@offset) without mounting. */
static int extract_uboot(const struct lkb_run_target *t, const char *state,
                         struct lkb_error *err)
{
    char *card = t->sd_from_tar ? lkb_fs_join(state, "sdcard.img") : NULL;
    if (t->sd_from_tar && (!card || lkb_run_sdcard_make(t->path, card, state, err) < 0)) {
        free(card);
        return card ? -1 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    char *img = lkb_strf("%s@@%llu", card ? card : t->path, t->boot_part_offset);
    free(card);
    char *out = lkb_fs_join(state, "u-boot.bin"), *log = lkb_fs_join(state, "mtools.log");
    int rc = -1;
    if (!img || !out || !log) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    } else {
        char *argv[] = {"mcopy", "-n", "-o", "-i", img, "::/u-boot.bin", out, NULL};
        rc = lkb_run_tool(argv, "mtools", log, err);
        if (rc < 0)
            lkb_error_prefix(err, "%s: reading u-boot.bin from its FAT partition: ", t->path);
    }
    free(img);
    free(out);
    free(log);
    return rc;
}

int lkb_run_prepare(const struct lkb_run_target *t, struct lkb_run_opts *o, const char *state,
                    struct lkb_error *err)
{
    /* Every refusal before the first file is made. */
    for (size_t i = 0; i < o->n_disks; i++)
        if (o->disks[i].path && !o->disks[i].size_mb && access(o->disks[i].path, F_OK) != 0)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "-disk %s does not exist: give size= to create it",
                                 o->disks[i].path);
    if (lkb_fs_mkdir_p(state, 0755, err) < 0)
        return lkb_error_prefix(err, "state directory: ");
    const char *arch;
    if (lkb_run_resolve_arch(t, o, &arch, err) < 0)
        return -1;
    if (lkb_run_firmware(t, o, arch) == LKB_RUN_FW_UEFI) {
        char *vars = lkb_fs_join(state, "efi-vars.fd");
        char *tmpl = lkb_strf("%s%s", o->fw_root ? o->fw_root : "",
                              lkb_run_uefi_files(arch)->vars);
        int rc = vars && tmpl ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (rc == 0 && access(vars, F_OK) != 0 && access(tmpl, R_OK) == 0)
            rc = copy_file(tmpl, vars, err);
        free(vars);
        free(tmpl);
        if (rc < 0)
            return -1;
    }
    if (t->kind == LKB_RUN_RPI3 && extract_uboot(t, state, err) < 0)
        return -1;
    return make_disks(o, state, err);
}
