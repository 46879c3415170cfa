#include "pipeline/inputs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "initrd/initrd.h"
#include "pipeline/rootfs_tar.h"
#include "rootfs/image.h"
#include "util/fs.h"

const struct lkb_node *lkb_input_boot_file(struct lkb_build_state *b, const char *path)
{
    const struct lkb_node *n = lkb_tree_get(&b->root, path);
    return n && n->type == LKB_NODE_FILE ? n : NULL;
}

/* b->tmpdir/name, malloc'd; 1 when it exists already (made earlier). */
static int tmp_path(struct lkb_build_state *b, const char *name, char **path,
                    struct lkb_error *err)
{
    size_t n = strlen(b->tmpdir) + strlen(name) + 2;
    if (!(*path = malloc(n)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    snprintf(*path, n, "%s/%s", b->tmpdir, name);
    return access(*path, F_OK) == 0;
}

/* A blob of the tree as b->tmpdir/name; *path NULL without a blob. */
static int blob_file(struct lkb_build_state *b, const struct lkb_blob *blob, const char *name,
                     char **path, struct lkb_error *err)
{
    *path = NULL;
    if (!blob)
        return 0;
    int rc = tmp_path(b, name, path, err);
    if (rc == 0)
        rc = lkb_fs_write_atomic(*path, blob->data, blob->size, 0644, err);
    return rc < 0 ? -1 : 0;
}

int lkb_input_kernel(struct lkb_build_state *b, char **path, struct lkb_error *err)
{
    const struct lkb_node *k = lkb_input_boot_file(b, "boot/kernel");
    return blob_file(b, k ? k->blob : NULL, "kernel", path, err);
}

int lkb_input_ucode(struct lkb_build_state *b, char **path, struct lkb_error *err)
{
    return blob_file(b, b->kernel.ucode, "ucode.cpio", path, err);
}

int lkb_input_initrd(struct lkb_build_state *b, char **path, struct lkb_error *err)
{
    int rc = tmp_path(b, "initrd.img", path, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    enum lkb_initrd_compression comp;
    if (lkb_initrd_compression_parse(b->opts->initrd_compression, &comp, err) < 0)
        return -1;
    struct lkb_initrd_opts o = {.comp = comp, .mtime_clamp = b->clamp,
                                .segment_cache = lkb_cache_dir(b->cache)};
    return lkb_initrd_write_opts(&b->root, *path, &o, NULL, err);
}

int lkb_input_write_rootfs(struct lkb_build_state *b, int fd, bool dockerfile, const char *what,
                           struct lkb_error *err)
{
    /* build-and-outputs.md §9.1: plain ustar, no pax records. */
    static const char docker[] = "\nFROM scratch\n\nCOPY . ./\n\nENTRYPOINT [\"/bin/rc.init\"]\n";
    int64_t mtime = b->clamp >= 0 && b->clamp < LKB_DEFAULT_MTIME ? b->clamp : LKB_DEFAULT_MTIME;
    struct lkb_tar_writer w;
    if (lkb_tar_begin(&w, fd, what, err) < 0)
        return -1;
    if (lkb_tar_tree(&w, &b->root, NULL, NULL, b->clamp, err) < 0 ||
        (dockerfile &&
         lkb_tar_plain_file(&w, "Dockerfile", docker, sizeof docker - 1, 0644, mtime, err) < 0)) {
        lkb_tar_abort(&w);
        return -1;
    }
    return lkb_tar_end(&w, err);
}

int lkb_input_rootfs_tar(struct lkb_build_state *b, char **path, struct lkb_error *err)
{
    int rc = tmp_path(b, "rootfs.tar", path, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    struct lkb_atomic_file f;
    if (lkb_atomic_file_open(&f, *path, 0644, err) < 0)
        return -1;
    if (lkb_input_write_rootfs(b, f.fd, false, *path, err) < 0) {
        lkb_atomic_file_abort(&f);
        return -1;
    }
    return lkb_atomic_file_commit(&f, err);
}

int lkb_input_dtbs(struct lkb_build_state *b, struct lkb_dtbs *out, struct lkb_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->root.n; i++) {
        struct lkb_node *n = &b->root.nodes[i];
        if (n->removed || n->type != LKB_NODE_FILE || strncmp(n->path, "boot/dtb/", 9) != 0)
            continue;
        char *p = NULL;
        size_t len = strlen(b->tmpdir) + strlen(n->path) + 2;
        struct lkb_input_file *v = realloc(out->v1_0, (out->n + 1) * sizeof *v);
        if (v)
            out->v1_0 = v;
        struct lkb_file *f = realloc(out->files, (out->n + 1) * sizeof *f);
        if (f)
            out->files = f;
        if (!v || !f || !(p = malloc(len)))
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        snprintf(p, len, "%s/dtb/%s", b->tmpdir, n->path + 9);
        char *slash = strrchr(p, '/');
        *slash = '\0';
        rc = lkb_fs_mkdir_p(p, 0755, err);
        *slash = '/';
        if (rc == 0 && access(p, F_OK) != 0)
            rc = lkb_fs_write_atomic(p, n->blob->data, n->blob->size, 0644, err);
        out->v1_0[out->n] = (struct lkb_input_file){n->path + 9, p};
        out->files[out->n] = (struct lkb_file){sizeof(struct lkb_file), n->path + 9, p};
        out->n++;
    }
    return rc;
}

void lkb_input_dtbs_free(struct lkb_dtbs *d)
{
    for (size_t i = 0; i < d->n; i++)
        free((char *)d->v1_0[i].path);
    free(d->v1_0);
    free(d->files);
    memset(d, 0, sizeof *d);
}
