/* kernel+squashfs and kernel+erofs: NAME-kernel, NAME-cmdline (written
 * even when empty, as LinuxKit does) and the root file system without
 * boot/kernel, boot/cmdline and boot/ucode.cpio as a squashfs or erofs
 * image (build-and-outputs.md §13.3).
 *
 * The image tools read a directory, so the tree goes through a tar
 * extracted under fakeroot: owners, device nodes and modes survive without
 * root, and the tool, run in the same fakeroot session, sees them. */
#include "pipeline/fmt_rootimg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/build_state.h"
#include "pipeline/inputs.h"
#include "pipeline/rootfs_tar.h"
#include "pipeline/tool_run.h"
#include "util/fs.h"
#include "util/str.h"

struct lkb_rootimg {
    const char *suffix;  /* "-squashfs.img" */
    const char *tool;    /* mksquashfs, mkfs.erofs */
    const char *package; /* its Debian package */
};

const struct lkb_rootimg lkb_rootimg_squashfs = {"-squashfs.img", "mksquashfs", "squashfs-tools"};
const struct lkb_rootimg lkb_rootimg_erofs = {"-erofs.img", "mkfs.erofs", "erofs-utils"};

static struct lkb_build_state *state(lkb_host *host)
{
    return ((struct lkb_host *)host)->pipeline;
}

static struct lkb_error *herr(lkb_host *host) { return &((struct lkb_host *)host)->err; }

static bool not_in_image(const struct lkb_node *n, void *ctx)
{
    (void)ctx;
    return !strcmp(n->path, "boot/kernel") || !strcmp(n->path, "boot/cmdline") ||
           !strcmp(n->path, "boot/ucode.cpio");
}

/* NAME<suffix> in the staging directory with data (possibly empty). */
static int write_output(const struct lkb_host_api *api, lkb_host *host, const char *name,
                        const char *suffix, const struct lkb_blob *blob)
{
    char *file = lkb_strf("%s%s", name, suffix);
    int fd = -1, rc = -1;
    if (!file)
        return lkb_error_set(herr(host), LKB_ERR_INTERNAL, "out of memory");
    if (api->output_open(host, file, &fd) == LKB_OK)
        rc = blob && blob->size
                 ? lkb_fs_write_all(fd, blob->data, blob->size, file, herr(host))
                 : 0;
    if (fd >= 0)
        close(fd);
    free(file);
    return rc;
}

/* The tree (minus boot files) as a tar in the temporary directory. */
static int image_tar(struct lkb_build_state *b, const char *path, struct lkb_error *err)
{
    struct lkb_atomic_file f;
    struct lkb_tar_writer w;
    if (lkb_atomic_file_open(&f, path, 0600, err) < 0)
        return -1;
    if (lkb_tar_begin(&w, f.fd, path, err) < 0) {
        lkb_atomic_file_abort(&f);
        return -1;
    }
    if (lkb_tar_tree(&w, &b->root, not_in_image, NULL, b->clamp, err) < 0 ||
        lkb_tar_end(&w, err) < 0) {
        lkb_tar_abort(&w);
        lkb_atomic_file_abort(&f);
        return -1;
    }
    return lkb_atomic_file_commit(&f, err);
}

/* A version 4 UUID from the build's seed: the same build gets the same
 * file-system UUID. */
static char *seed_uuid(const uint8_t *s)
{
    return lkb_strf("%02x%02x%02x%02x-%02x%02x-4%x%02x-%x%x%02x-%02x%02x%02x%02x%02x%02x", s[0],
                    s[1], s[2], s[3], s[4], s[5], s[6] & 0xf, s[7], 8 | (s[8] & 3),
                    s[8] >> 4 & 0xf, s[9], s[10], s[11], s[12], s[13], s[14], s[15]);
}

static int make_image(struct lkb_build_state *b, const struct lkb_rootimg *kind,
                      const struct lkb_build_input *in, const char *out, struct lkb_error *err)
{
    char *tar = lkb_strf("%s/%s.tar", b->tmpdir, kind->tool);
    char *dir = lkb_strf("%s/%s.root", b->tmpdir, kind->tool);
    char *db = lkb_strf("%s/%s.fakeroot", b->tmpdir, kind->tool);
    char *when = lkb_strf("%lld", (long long)b->timestamp);
    char *sde = lkb_strf("SOURCE_DATE_EPOCH=%lld", (long long)b->timestamp);
    char *uuid = seed_uuid(in->seed);
    int rc = tar && dir && db && when && sde && uuid
                 ? 0
                 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = image_tar(b, tar, err);
    if (rc == 0)
        rc = lkb_fs_mkdir_p(dir, 0755, err);
    if (rc == 0) {
        const char *x[] = {"fakeroot", "-s", db, "--", "tar", "--numeric-owner", "--delay-directory-restore",
                           "--pax-option=delete=LINUXKIT.*,delete=LKB.*", "-xpf", tar, "-C", dir, NULL};
        rc = lkb_tool_run(x, NULL, "fakeroot", err);
    }
    unlink(tar);
    if (rc == 0 && kind == &lkb_rootimg_squashfs) {
        /* Reproducible by default; file times come from the tree. */
        const char *x[] = {"fakeroot",    "-i", db, "--", "mksquashfs", dir, out, "-noappend",
                           "-mkfs-time", when, "-quiet", "-no-progress", NULL};
        rc = lkb_tool_run(x, NULL, kind->package, err);
    } else if (rc == 0) {
        /* erofs-utils 1.5 keeps each file's mtime only with
         * SOURCE_DATE_EPOCH set; -U instead of a random UUID. */
        const char *x[] = {"fakeroot", "-i", db, "--", "mkfs.erofs", "--quiet", "-U", uuid,
                           out, dir, NULL};
        const char *env[] = {sde, NULL};
        rc = lkb_tool_run(x, env, kind->package, err);
    }
    if (dir) {
        struct lkb_error e;
        lkb_fs_remove_tree(dir, &e);
    }
    if (db)
        unlink(db);
    free(tar), free(dir), free(db), free(when), free(sde), free(uuid);
    return rc;
}

int lkb_rootimg_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    struct lkb_build_state *b = state(host);
    const struct lkb_rootimg *kind = in->format_data;
    const struct lkb_node *k = lkb_input_boot_file(b, "boot/kernel"),
                          *c = lkb_input_boot_file(b, "boot/cmdline");
    char *file = lkb_strf("%s%s", in->name, kind->suffix), *out = NULL;
    int rc = file ? 0 : lkb_error_set(herr(host), LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0 && k)
        rc = write_output(api, host, in->name, "-kernel", k->blob);
    if (rc == 0)
        rc = write_output(api, host, in->name, "-cmdline", c ? c->blob : NULL);
    if (rc == 0 && api->output_path(host, file, &out) != LKB_OK)
        rc = -1;
    if (rc == 0)
        rc = make_image(b, kind, in, out, herr(host));
    free(file);
    free(out);
    return rc == 0 ? LKB_OK : LKB_FAIL;
}
