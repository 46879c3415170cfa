#include "pipeline/builtin_formats.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/build_state.h"
#include "pipeline/fmt_rootimg.h"
#include "pipeline/inputs.h"
#include "rootfs/image.h"
#include "util/fs.h"


static struct lkb_build_state *state(lkb_host *host)
{
    return ((struct lkb_host *)host)->pipeline;
}

static struct lkb_error *herr(lkb_host *host) { return &((struct lkb_host *)host)->err; }

/* The output "<name><suffix>". */
static int out_name(lkb_host *host, const struct lkb_build_input *in, const char *suffix,
                    char name[512])
{
    int n = snprintf(name, 512, "%s%s", in->name, suffix);
    if (n < 0 || n >= 512)
        return lkb_error_set(herr(host), LKB_ERR_USAGE, "output name %s%s is too long", in->name,
                             suffix);
    return 0;
}

/* "<name><suffix>" opened in the staging directory. */
static int open_out(const struct lkb_host_api *api, lkb_host *host,
                    const struct lkb_build_input *in, const char *suffix, int *fd)
{
    char name[512];
    if (out_name(host, in, suffix, name) < 0)
        return -1;
    return api->output_open(host, name, fd) == LKB_OK ? 0 : -1;
}

static int write_out(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in, const char *suffix, const void *data,
                     size_t len)
{
    int fd;
    if (open_out(api, host, in, suffix, &fd) < 0)
        return -1;
    int rc = lkb_fs_write_all(fd, data, len, suffix, herr(host));
    close(fd);
    return rc;
}

static int archive_sink(void *ctx, const char *buf, size_t n, struct lkb_error *err)
{
    struct archive *a = ctx;
    if (archive_write_data(a, buf, n) == (la_ssize_t)n)
        return 0;
    return lkb_error_set(err, LKB_ERR_IO, "writing the archive: %s",
                         archive_error_string(a) ? archive_error_string(a) : "short write");
}

static int kernel_initrd_build(const struct lkb_host_api *api, lkb_host *host,
                               const struct lkb_build_input *in)
{
    struct lkb_build_state *b = state(host);
    const struct lkb_node *k = lkb_input_boot_file(b, "boot/kernel"),
                          *c = lkb_input_boot_file(b, "boot/cmdline");
    int rc = 0, fd;
    if (k)
        rc = write_out(api, host, in, "-kernel", k->blob->data, k->blob->size);
    /* Without microcode to put first, the output is the shared initrd
     * itself: a hard link (same file system, see pipeline.c's make_tmpdir),
     * not a copy. */
    int linked = 0;
    if (rc == 0 && !b->kernel.ucode) {
        char name[512], *path = NULL;
        if (out_name(host, in, "-initrd.img", name) == 0 &&
            api->output_path(host, name, &path) == LKB_OK) {
            linked = link(in->initrd_path, path) == 0;
            api->free(path);
        }
    }
    if (rc == 0 && !linked && (rc = open_out(api, host, in, "-initrd.img", &fd)) == 0) {
        if (b->kernel.ucode)
            rc = lkb_fs_write_all(fd, b->kernel.ucode->data, b->kernel.ucode->size, "initrd",
                                  herr(host));
        if (rc == 0)
            rc = lkb_fs_copy_into(fd, in->initrd_path, "initrd", herr(host));
        close(fd);
    }
    if (rc == 0 && c && c->blob->size)
        rc = write_out(api, host, in, "-cmdline", c->blob->data, c->blob->size);
    return rc == 0 ? LKB_OK : LKB_FAIL;
}

static int tar_header(struct archive *a, const char *name, int64_t size, int64_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return -1;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_size(e, size);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free(e);
    return rc;
}

static int tar_blob(struct archive *a, const char *name, const struct lkb_blob *blob,
                    int64_t mtime)
{
    if (tar_header(a, name, (int64_t)blob->size, mtime) < 0)
        return -1;
    return archive_write_data(a, blob->data, blob->size) == (la_ssize_t)blob->size ? 0 : -1;
}

/* The initrd streamed into the archive, not read into memory. */
static int tar_file(struct archive *a, const char *name, const char *path, int64_t mtime,
                    struct lkb_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "%s", path);
    if (tar_header(a, name, st.st_size, mtime) < 0)
        return -1;
    return lkb_fs_each_chunk(path, archive_sink, a, err);
}

static int tar_kernel_initrd_build(const struct lkb_host_api *api, lkb_host *host,
                                   const struct lkb_build_input *in)
{
    struct lkb_build_state *b = state(host);
    const struct lkb_node *k = lkb_input_boot_file(b, "boot/kernel"),
                          *c = lkb_input_boot_file(b, "boot/cmdline");
    int64_t mtime = b->clamp >= 0 && b->clamp < LKB_DEFAULT_MTIME ? b->clamp : LKB_DEFAULT_MTIME;
    int fd;
    if (open_out(api, host, in, "-initrd.tar", &fd) < 0)
        return LKB_FAIL;
    struct archive *a = archive_write_new();
    archive_write_set_format_ustar(a);
    archive_write_set_bytes_in_last_block(a, 1);
    struct stat st;
    int rc = archive_write_open_fd(a, fd) == ARCHIVE_OK ? 0 : -1;
    if (rc == 0 && k && k->blob->size)
        rc = tar_blob(a, "kernel", k->blob, mtime);
    if (rc == 0 && stat(in->initrd_path, &st) == 0 && st.st_size)
        rc = tar_file(a, "initrd.img", in->initrd_path, mtime, herr(host));
    if (rc == 0 && c && c->blob->size)
        rc = tar_blob(a, "cmdline", c->blob, mtime);
    if (rc == 0 && b->kernel.ucode)
        rc = tar_blob(a, "ucode.cpio", b->kernel.ucode, mtime);
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = -1;
    if (rc < 0 && !herr(host)->msg[0])
        lkb_error_set(herr(host), LKB_ERR_IO, "%s-initrd.tar: %s", in->name,
                      archive_error_string(a) ? archive_error_string(a) : "write failed");
    archive_write_free(a);
    close(fd);
    return rc == 0 ? LKB_OK : LKB_FAIL;
}

/* tar and docker: the root file system streamed to stdout (-o -) or
 * staged as NAME<suffix> (-o FILE renames it onto FILE at the commit). */
static int rootfs_stream(const struct lkb_host_api *api, lkb_host *host,
                         const struct lkb_build_input *in, const char *suffix, bool dockerfile)
{
    struct lkb_build_state *b = state(host);
    const char *out = b->plan->output_file;
    if (out && strcmp(out, "-") == 0)
        return lkb_input_write_rootfs(b, STDOUT_FILENO, dockerfile, "stdout", herr(host)) == 0
                   ? LKB_OK
                   : LKB_FAIL;
    int fd;
    if (open_out(api, host, in, suffix, &fd) < 0)
        return LKB_FAIL;
    int rc = lkb_input_write_rootfs(b, fd, dockerfile, in->name, herr(host));
    close(fd);
    return rc == 0 ? LKB_OK : LKB_FAIL;
}

static int tar_build(const struct lkb_host_api *api, lkb_host *host,
                     const struct lkb_build_input *in)
{
    return rootfs_stream(api, host, in, ".tar", false);
}

static int docker_build(const struct lkb_host_api *api, lkb_host *host,
                        const struct lkb_build_input *in)
{
    return rootfs_stream(api, host, in, ".docker", true);
}

#define BUILTIN(n, d, fn, kind)                                                                \
    {                                                                                          \
        .struct_size = sizeof(struct lkb_format), .name = n, .description = d, .build = fn,    \
        .data = kind                                                                           \
    }

static const struct lkb_format formats[] = {
    BUILTIN("kernel+initrd", "kernel, compressed cpio initrd and cmdline files",
            kernel_initrd_build, NULL),
    BUILTIN("tar", "the root file system as a tar (streamable, -o)", tar_build, NULL),
    BUILTIN("docker", "the root file system tar plus a Dockerfile (docker import; -o)",
            docker_build, NULL),
    BUILTIN("tar-kernel-initrd", "a tar holding kernel, initrd.img, cmdline, ucode.cpio",
            tar_kernel_initrd_build, NULL),
    BUILTIN("kernel+squashfs", "kernel, cmdline and the root file system as squashfs",
            lkb_rootimg_build, (void *)&lkb_rootimg_squashfs),
    BUILTIN("kernel+erofs", "kernel, cmdline and the root file system as erofs",
            lkb_rootimg_build, (void *)&lkb_rootimg_erofs),
};

static const struct lkb_plugin builtin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "lkb",
    .version = "",
    .formats = formats,
    .n_formats = sizeof formats / sizeof *formats,
};

const struct lkb_plugin *lkb_builtin_plugin(void) { return &builtin; }

int lkb_builtin_streamable(const struct lkb_format *f)
{
    return f->build == tar_build || f->build == docker_build;
}

int lkb_builtin_reads_initrd(const struct lkb_format *f)
{
    return f->build == kernel_initrd_build || f->build == tar_kernel_initrd_build;
}

const char *lkb_builtin_outputs(const struct lkb_format *f)
{
    static const char *const several[][2] = {
        {"kernel+initrd", "NAME-kernel, NAME-initrd.img, NAME-cmdline"},
        {"kernel+squashfs", "NAME-kernel, NAME-cmdline, NAME-squashfs.img"},
        {"kernel+erofs", "NAME-kernel, NAME-cmdline, NAME-erofs.img"},
    };
    for (size_t i = 0; i < sizeof several / sizeof *several; i++)
        if (!strcmp(f->name, several[i][0]))
            return several[i][1];
    return NULL;
}
