/* The build: pull every image (in parallel), lay out the root tree in
 * LinuxKit's section order (kernel, init, volumes, onboot, onshutdown,
 * services, files), then write the outputs. Outputs are written to
 * temporary names and renamed only when every one of them succeeded, so a
 * failed build leaves nothing behind. */
#include "build/pipeline.h"

#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/containers.h"
#include "build/files.h"
#include "build/kernel.h"
#include "initrd/initrd.h"
#include "oci/oci.h"
#include "plugin/host.h"
#include "rootfs/archive_out.h"
#include "rootfs/image.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"

struct pulled {
    char *text; /* image string as written in the YAML */
    struct lkb_image *img;
};

struct build {
    const struct lkb_build_opts *opts;
    const struct lkb_build_plan *plan;
    const struct lkb_config *cfg;
    struct lkb_cache *cache;
    struct lkb_pull_opts pull;
    struct pulled *images;
    size_t n_images;
    struct lkb_tree root;
    struct lkb_kernel_out kernel;
    bool have_kernel;
    int64_t clamp;
    char *tmpdir;
    struct lkb_atomic_file *outs; /* committed together at the end */
    size_t n_outs;
};

static struct lkb_image *lookup(void *ctx, const char *text)
{
    struct build *b = ctx;
    for (size_t i = 0; i < b->n_images; i++)
        if (strcmp(b->images[i].text, text) == 0)
            return b->images[i].img;
    return NULL;
}

static int want(struct build *b, const char *text, struct lkb_error *err)
{
    if (!text || !*text || lookup(b, text))
        return 0;
    for (size_t i = 0; i < b->n_images; i++)
        if (strcmp(b->images[i].text, text) == 0)
            return 0;
    struct pulled *n = realloc(b->images, (b->n_images + 1) * sizeof *n);
    if (!n)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    b->images = n;
    n[b->n_images].img = NULL;
    if (!(n[b->n_images].text = strdup(text)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    b->n_images++;
    return 0;
}

static int pull_all(struct build *b, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    int rc = want(b, json_string_value(json_object_get(cfg->kernel, "image")), err);
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v) rc |= want(b, json_string_value(v), err);
    const json_t *lists[] = {cfg->onboot, cfg->onshutdown, cfg->services};
    for (int l = 0; l < 3; l++)
        json_array_foreach(lists[l], i, v) rc |= want(b, json_string_value(json_object_get(v, "image")), err);
    json_array_foreach(cfg->volumes, i, v)
    {
        /* OCI-layout volumes are fetched per platform when laid out. */
        const char *f = json_string_value(json_object_get(v, "format"));
        if (!f || strcmp(f, "oci") != 0)
            rc |= want(b, json_string_value(json_object_get(v, "image")), err);
    }
    if (rc < 0)
        return -1;
    if (!b->n_images)
        return 0;
    struct lkb_pull_request *reqs = calloc(b->n_images, sizeof *reqs);
    if (!reqs)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    for (i = 0; i < b->n_images; i++) {
        reqs[i].ref = b->images[i].text;
        reqs[i].arch = b->plan->arch;
    }
    rc = lkb_oci_pull_many(b->cache, reqs, b->n_images, &b->pull, err);
    for (i = 0; rc == 0 && i < b->n_images; i++)
        b->images[i].img = reqs[i].image;
    free(reqs);
    return rc;
}

static int layout(struct build *b, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    const char *kimg = json_string_value(json_object_get(cfg->kernel, "image"));
    if (kimg) {
        lkb_info("Extract kernel image: %s", kimg);
        if (lkb_build_kernel_section(&b->root, lookup(b, kimg), cfg->kernel,
                                     b->opts->decompress_kernel, &b->kernel, err) < 0)
            return -1;
        b->have_kernel = true;
    }
    if (json_array_size(cfg->init))
        lkb_info("Add init containers:");
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v)
    {
        lkb_info("Process init image: %s", json_string_value(v));
        if (lkb_rootfs_add_image(&b->root, lookup(b, json_string_value(v)), "",
                                 LKB_RESOLV_SYMLINK, err) < 0)
            return -1;
    }
    if (json_array_size(cfg->volumes))
        lkb_info("Add volumes:");
    struct lkb_oci_volume_ctx oci = {b->cache, &b->pull, b->plan->arch};
    if (lkb_build_volumes(&b->root, cfg, lookup, b, &oci, err) < 0 ||
        lkb_build_containers(&b->root, cfg, lookup, b, err) < 0)
        return -1;
    if (json_array_size(cfg->files))
        lkb_info("Add files:");
    return lkb_build_files_section(&b->root, cfg, err);
}

/* ---- outputs ---- */

static int out_open(struct build *b, const char *path, struct lkb_atomic_file **f,
                    struct lkb_error *err)
{
    struct lkb_atomic_file *n = realloc(b->outs, (b->n_outs + 1) * sizeof *n);
    if (!n)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    b->outs = n;
    if (lkb_atomic_file_open(&n[b->n_outs], path, 0644, err) < 0)
        return -1;
    *f = &n[b->n_outs++];
    return 0;
}

static int out_bytes(struct build *b, const char *path, const void *data, size_t len,
                     struct lkb_error *err)
{
    struct lkb_atomic_file *f;
    if (out_open(b, path, &f, err) < 0)
        return -1;
    return lkb_fs_write_all(f->fd, data, len, path, err);
}

static char *base_path(const struct build *b, const char *suffix)
{
    size_t n = strlen(b->plan->dir) + strlen(b->plan->name) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s%s", b->plan->dir, b->plan->name, suffix);
    return s;
}

static const struct lkb_node *boot_file(struct build *b, const char *path)
{
    const struct lkb_node *n = lkb_tree_get(&b->root, path);
    return n && n->type == LKB_NODE_FILE ? n : NULL;
}

static int write_tar_to_fd(struct build *b, int fd, const char *path, struct lkb_error *err)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        lkb_error_set(err, LKB_ERR_IO, "%s: %s", path, archive_error_string(a));
        archive_write_free(a);
        return -1;
    }
    int rc = lkb_tree_write_archive(&b->root, a, NULL, NULL, b->clamp, err);
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = lkb_error_set(err, LKB_ERR_IO, "%s: %s", path, archive_error_string(a));
    archive_write_free(a);
    return rc;
}

/* The initrd goes to a temporary file once; formats share it. */
static int initrd_file(struct build *b, char **path, struct lkb_error *err)
{
    static const char name[] = "/initrd.img";
    size_t n = strlen(b->tmpdir) + sizeof name;
    *path = malloc(n);
    if (!*path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    snprintf(*path, n, "%s%s", b->tmpdir, name);
    if (access(*path, F_OK) == 0)
        return 0;
    enum lkb_initrd_compression comp;
    if (lkb_initrd_compression_parse(b->opts->initrd_compression, &comp, err) < 0)
        return -1;
    return lkb_initrd_write(&b->root, *path, comp, NULL, 0, b->clamp, err);
}


static int out_kernel_initrd(struct build *b, struct lkb_error *err)
{
    char *kpath = base_path(b, "-kernel"), *ipath = base_path(b, "-initrd.img"),
         *cpath = base_path(b, "-cmdline"), *tmp = NULL;
    int rc = !kpath || !ipath || !cpath ? lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory") : 0;
    const struct lkb_node *k = boot_file(b, "boot/kernel"), *c = boot_file(b, "boot/cmdline");
    if (rc == 0 && k)
        rc = out_bytes(b, kpath, k->blob->data, k->blob->size, err);
    if (rc == 0)
        rc = initrd_file(b, &tmp, err);
    struct lkb_atomic_file *f;
    if (rc == 0 && (rc = out_open(b, ipath, &f, err)) == 0) {
        if (b->kernel.ucode)
            rc = lkb_fs_write_all(f->fd, b->kernel.ucode->data, b->kernel.ucode->size, ipath,
                                  err);
        if (rc == 0)
            rc = lkb_fs_copy_into(f->fd, tmp, ipath, err);
    }
    if (rc == 0 && c && c->blob->size)
        rc = out_bytes(b, cpath, c->blob->data, c->blob->size, err);
    if (rc == 0)
        lkb_info("  %s %s%s %s", kpath, b->kernel.ucode ? "ucode+" : "", ipath, cpath);
    free(kpath), free(ipath), free(cpath), free(tmp);
    return rc;
}

static int out_tar_kernel_initrd(struct build *b, struct lkb_error *err)
{
    char *path = base_path(b, "-initrd.tar"), *tmp = NULL;
    struct lkb_atomic_file *f;
    if (!path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = initrd_file(b, &tmp, err);
    if (rc == 0)
        rc = out_open(b, path, &f, err);
    struct lkb_tree t;
    lkb_tree_init(&t, LKB_DEFAULT_MTIME);
    t.root.omit = true; /* four files, not a root file system */
    struct lkb_blob *initrd = NULL;
    if (rc == 0)
        rc = lkb_blob_map_file(tmp, &initrd, err);
    const struct lkb_node *k = boot_file(b, "boot/kernel"), *c = boot_file(b, "boot/cmdline");
    if (rc == 0 && k && k->blob->size)
        rc = lkb_tree_add_file(&t, "kernel", k->blob->data, k->blob->size, 0644, 0, 0,
                               LKB_DEFAULT_MTIME, err);
    if (rc == 0 && initrd->size)
        rc = lkb_tree_add_blob(&t, "initrd.img", initrd, 0644, 0, 0, LKB_DEFAULT_MTIME, err);
    if (rc == 0 && c && c->blob->size)
        rc = lkb_tree_add_file(&t, "cmdline", c->blob->data, c->blob->size, 0644, 0, 0,
                               LKB_DEFAULT_MTIME, err);
    if (rc == 0 && b->kernel.ucode)
        rc = lkb_tree_add_file(&t, "ucode.cpio", b->kernel.ucode->data, b->kernel.ucode->size,
                               0644, 0, 0, LKB_DEFAULT_MTIME, err);
    if (rc == 0) {
        struct archive *a = archive_write_new();
        archive_write_set_format_ustar(a);
        archive_write_set_bytes_in_last_block(a, 1);
        if (archive_write_open_fd(a, f->fd) != ARCHIVE_OK ||
            lkb_tree_write_archive(&t, a, NULL, NULL, b->clamp, err) < 0 ||
            archive_write_close(a) != ARCHIVE_OK)
            rc = err->msg[0] ? -1 : lkb_error_set(err, LKB_ERR_IO, "%s: %s", path,
                                                  archive_error_string(a));
        archive_write_free(a);
    }
    if (rc == 0)
        lkb_info("  %s", path);
    lkb_tree_free(&t);
    lkb_blob_unref(initrd);
    free(path);
    free(tmp);
    return rc;
}

static int out_tar(struct build *b, struct lkb_error *err)
{
    const char *path = b->plan->output_file;
    if (strcmp(path, "-") == 0)
        return write_tar_to_fd(b, STDOUT_FILENO, "stdout", err);
    struct lkb_atomic_file *f;
    if (out_open(b, path, &f, err) < 0)
        return -1;
    return write_tar_to_fd(b, f->fd, path, err);
}

/* ---- plugins ---- */

struct image_access {
    struct build *b;
};

static int host_read_file(void *ctx, const char *image, const char *path, void **data,
                          size_t *size, struct lkb_error *err)
{
    struct build *b = ctx;
    struct lkb_image *img = lookup(b, image), *own = NULL;
    if (!img) {
        if (lkb_oci_pull(b->cache, image, b->plan->arch, &b->pull, &own, err) < 0)
            return -1;
        img = own;
    }
    int rc = lkb_image_read_file(img, path, data, size, err);
    lkb_image_free(own);
    if (rc == 1)
        return lkb_error_set(err, LKB_ERR_BUILD, "%s not found in image %s", path, image);
    return rc;
}

static int host_extract_dir(void *ctx, const char *image, const char *path, const char *dest,
                            struct lkb_error *err)
{
    struct build *b = ctx;
    struct lkb_image *img = lookup(b, image), *own = NULL;
    if (!img) {
        if (lkb_oci_pull(b->cache, image, b->plan->arch, &b->pull, &own, err) < 0)
            return -1;
        img = own;
    }
    struct lkb_tree t;
    int rc = lkb_rootfs_flatten(img, &t, err);
    char *prefix = NULL;
    if (rc == 0 && strcmp(path, "") != 0 && strcmp(path, "/") != 0)
        rc = lkb_tree_clean_path(path, &prefix, err);
    size_t plen = prefix ? strlen(prefix) : 0;
    int found = 0;
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        struct lkb_node *n = &t.nodes[i];
        if (n->removed)
            continue;
        const char *rel = n->path;
        if (prefix) {
            if (strncmp(n->path, prefix, plen) != 0 || (n->path[plen] && n->path[plen] != '/'))
                continue;
            rel = n->path[plen] ? n->path + plen + 1 : "";
        }
        found = 1;
        if (!*rel)
            continue;
        char out[8192];
        if ((rc = lkb_strf_buf(out, sizeof out, err, "%s/%s", dest, rel)) < 0)
            break;
        if (n->type == LKB_NODE_DIR)
            rc = lkb_fs_mkdir_p(out, 0755, err);
        else if (n->type == LKB_NODE_FILE)
            rc = lkb_fs_write_atomic(out, n->blob->data, n->blob->size, n->mode & 0777, err);
        else if (n->type == LKB_NODE_SYMLINK && symlink(n->link, out) < 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "symlink %s", out);
    }
    if (rc == 0 && !found)
        rc = lkb_error_set(err, LKB_ERR_BUILD, "%s not found in image %s", path, image);
    free(prefix);
    lkb_tree_free(&t);
    lkb_image_free(own);
    return rc;
}

static int out_plugin(struct build *b, const struct lkb_planned_format *pf, struct lkb_error *err)
{
    char *initrd = NULL, kpath[4096], tarpath[4096], dtbdir[4096];
    int rc = initrd_file(b, &initrd, err);
    const struct lkb_node *k = boot_file(b, "boot/kernel"), *c = boot_file(b, "boot/cmdline");
    if (rc == 0 && (lkb_strf_buf(kpath, sizeof kpath, err, "%s/kernel", b->tmpdir) < 0 ||
                    lkb_strf_buf(tarpath, sizeof tarpath, err, "%s/rootfs.tar", b->tmpdir) < 0 ||
                    lkb_strf_buf(dtbdir, sizeof dtbdir, err, "%s/dtb", b->tmpdir) < 0))
        rc = -1;
    if (rc == 0 && k && access(kpath, F_OK) != 0)
        rc = lkb_fs_write_atomic(kpath, k->blob->data, k->blob->size, 0644, err);
    if (rc == 0 && access(tarpath, F_OK) != 0) {
        struct lkb_atomic_file f;
        if ((rc = lkb_atomic_file_open(&f, tarpath, 0644, err)) == 0) {
            rc = write_tar_to_fd(b, f.fd, tarpath, err);
            if (rc == 0)
                rc = lkb_atomic_file_commit(&f, err);
            else
                lkb_atomic_file_abort(&f);
        }
    }
    /* Device trees from kernel.tar's boot/dtb/, as files with their names. */
    struct lkb_input_file *dtbs = NULL;
    size_t n_dtbs = 0;
    for (size_t i = 0; rc == 0 && i < b->root.n; i++) {
        struct lkb_node *n = &b->root.nodes[i];
        if (n->removed || n->type != LKB_NODE_FILE || strncmp(n->path, "boot/dtb/", 9) != 0)
            continue;
        char p[8192];
        if ((rc = lkb_strf_buf(p, sizeof p, err, "%s/%s", dtbdir, n->path + 9)) < 0)
            break;
        char *slash = strrchr(p, '/');
        *slash = '\0';
        rc = lkb_fs_mkdir_p(p, 0755, err);
        *slash = '/';
        if (rc == 0 && access(p, F_OK) != 0)
            rc = lkb_fs_write_atomic(p, n->blob->data, n->blob->size, 0644, err);
        struct lkb_input_file *nd = realloc(dtbs, (n_dtbs + 1) * sizeof *nd);
        if (rc == 0 && nd) {
            dtbs = nd;
            dtbs[n_dtbs].name = strdup(n->path + 9);
            dtbs[n_dtbs].path = strdup(p);
            n_dtbs++;
        }
    }
    char *base = base_path(b, "");
    if (rc == 0) {
        struct lkb_build_input in = {
            .struct_size = sizeof in,
            .abi_version = LKB_PLUGIN_ABI_VERSION,
            .format = pf->name,
            .arch = b->plan->arch,
            .name = b->plan->name,
            .output_dir = b->plan->dir,
            .output_base = base,
            .kernel_path = k ? kpath : NULL,
            .initrd_path = initrd,
            .cmdline = c ? (const char *)c->blob->data : "",
            .size_bytes = b->opts->size_set ? b->opts->size_bytes : 0,
            .dtbs = dtbs,
            .n_dtbs = n_dtbs,
            .options = b->opts->format_opts,
            .n_options = b->opts->n_format_opts,
            .rootfs_tar_path = tarpath,
        };
        /* cmdline blob is not NUL-terminated: give the plugin a string. */
        char *cmdline = c ? strndup((const char *)c->blob->data, c->blob->size) : strdup("");
        in.cmdline = cmdline;
        struct lkb_host host;
        lkb_host_init(&host, pf->plugin->plugin->desc.name);
        host.options = b->opts->format_opts;
        host.n_options = b->opts->n_format_opts;
        host.images.ctx = b;
        host.images.read_file = host_read_file;
        host.images.extract_dir = host_extract_dir;
        rc = lkb_host_run_build(&host, pf->plugin, &in, err);
        lkb_host_cleanup(&host);
        free(cmdline);
    }
    for (size_t i = 0; i < n_dtbs; i++) {
        free((char *)dtbs[i].name);
        free((char *)dtbs[i].path);
    }
    free(dtbs);
    free(base);
    free(initrd);
    return rc;
}

static int outputs(struct build *b, struct lkb_error *err)
{
    if (!b->plan->output_file)
        lkb_info("Create outputs:");
    for (size_t i = 0; i < b->plan->n_formats; i++) {
        const struct lkb_planned_format *pf = &b->plan->formats[i];
        int rc = 0;
        switch (pf->builtin) {
        case LKB_FMT_KERNEL_INITRD:
            rc = out_kernel_initrd(b, err);
            break;
        case LKB_FMT_TAR:
            rc = out_tar(b, err);
            break;
        case LKB_FMT_TAR_KERNEL_INITRD:
            rc = out_tar_kernel_initrd(b, err);
            break;
        case LKB_FMT_PLUGIN:
            rc = out_plugin(b, pf, err);
            break;
        }
        if (rc < 0)
            return -1;
    }
    for (size_t i = 0; i < b->n_outs; i++)
        if (lkb_atomic_file_commit(&b->outs[i], err) < 0) {
            for (size_t j = i + 1; j < b->n_outs; j++)
                lkb_atomic_file_abort(&b->outs[j]);
            b->n_outs = 0;
            return -1;
        }
    b->n_outs = 0;
    return 0;
}

int lkb_build_run(const struct lkb_build_opts *opts, const struct lkb_build_plan *plan,
                  const struct lkb_plugin_set *plugins, const struct lkb_config *cfg,
                  struct lkb_error *err)
{
    (void)plugins;
    struct build b = {.opts = opts, .plan = plan, .cfg = cfg, .clamp = -1};
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde)
        b.clamp = strtoll(sde, NULL, 10);
    b.pull.force = opts->pull;
    b.pull.offline = opts->offline;
    b.pull.verbose = opts->verbose > 0;
    b.pull.no_progress = opts->verbose < 0;
    lkb_tree_init(&b.root, LKB_DEFAULT_MTIME);
    int rc = 0;
    if (strcmp(plan->dir, ".") != 0 && access(plan->dir, W_OK) != 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "output directory %s", plan->dir);
    if (rc == 0 && !(b.cache = lkb_cache_open(opts->cache_dir, err)))
        rc = -1;
    if (rc == 0)
        rc = lkb_fs_make_temp_dir("lkb-build", &b.tmpdir, err);
    if (rc == 0)
        rc = pull_all(&b, err);
    if (rc == 0)
        rc = layout(&b, err);
    if (rc == 0)
        rc = outputs(&b, err);
    for (size_t i = 0; i < b.n_outs; i++)
        lkb_atomic_file_abort(&b.outs[i]);
    free(b.outs);
    if (b.tmpdir) {
        struct lkb_error e;
        lkb_fs_remove_tree(b.tmpdir, &e);
        free(b.tmpdir);
    }
    for (size_t i = 0; i < b.n_images; i++) {
        free(b.images[i].text);
        lkb_image_free(b.images[i].img);
    }
    free(b.images);
    lkb_blob_unref(b.kernel.ucode);
    lkb_tree_free(&b.root);
    if (b.cache)
        lkb_cache_close(b.cache);
    return rc;
}
