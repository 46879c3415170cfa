#include "rootfs/image.h"

#include <archive.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/layer.h"
#include "rootfs/unpacked.h"

static const char hosts_text[] = "127.0.0.1       localhost\n"
                                 "::1     localhost ip6-localhost ip6-loopback\n"
                                 "fe00::0 ip6-localnet\n"
                                 "ff00::0 ip6-mcastprefix\n"
                                 "ff02::1 ip6-allnodes\n"
                                 "ff02::2 ip6-allrouters\n";
static const char resolv_text[] = "\n# no resolv.conf configured\n";
#define RESOLV_TARGET "/run/resolvconf/resolv.conf"

/* A layer's file data may be at most 1024x its compressed size, and at
 * least 1 GiB (gzip cannot exceed ~1032x; zstd and xz can reach far more,
 * and spilled contents would fill $TMPDIR). $LKB_LAYER_MAX_BYTES sets a
 * fixed limit instead. */
uint64_t lkb_rootfs_layer_limit(int64_t compressed)
{
    const char *env = getenv("LKB_LAYER_MAX_BYTES");
    char *end;
    unsigned long long v = env && *env ? strtoull(env, &end, 10) : 0;
    if (env && *env && !*end && v > 0)
        return v;
    uint64_t l = compressed > 0 ? (uint64_t)compressed * 1024 : 0;
    return l < (UINT64_C(1) << 30) ? UINT64_C(1) << 30 : l;
}

int lkb_rootfs_flatten(struct lkb_image *img, struct lkb_tree *out, struct lkb_error *err)
{
    lkb_tree_init(out, LKB_DEFAULT_MTIME);
    for (size_t i = 0; i < img->n_layers; i++) {
        struct archive *a;
        struct lkb_blob_file *file;
        uint64_t limit = lkb_rootfs_layer_limit(img->layers[i].size);
        /* The unpacked layer when there is one (or can be made), else
         * the compressed blob inflated on the fly. */
        int u = lkb_unpacked_open(img, i, limit, &file, &a, err);
        if (u < 0)
            return -1;
        if (u > 0) {
            lkb_unpacked_count_streamed();
            if (lkb_oci_layer_open(img, i, &a, err) < 0)
                return -1;
        }
        char what[512];
        snprintf(what, sizeof what, "%s of image %s", img->layers[i].digest, img->ref);
        out->layer_budget = limit;
        int rc = lkb_layer_apply_file(out, a, file, 0, what, err);
        out->layer_budget = 0;
        archive_read_free(a);
        lkb_blob_file_unref(file);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static char *join(const char *prefix, const char *path)
{
    size_t n = strlen(prefix) + strlen(path) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", prefix, *prefix ? "/" : "", path);
    return s;
}

int lkb_rootfs_prefix_dirs(struct lkb_tree *root, const char *prefix, int64_t mtime,
                           struct lkb_error *err)
{
    if (!*prefix)
        return 0;
    char *copy = strdup(prefix);
    if (!copy)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = 0;
    for (char *s = copy;; s++) {
        if (*s == '/' || *s == '\0') {
            char saved = *s;
            *s = '\0';
            rc = lkb_tree_add_dir(root, copy, 0755, 0, 0, mtime, err);
            *s = saved;
            if (rc < 0 || !saved)
                break;
        }
    }
    free(copy);
    return rc;
}

static int is_dropped(const char *p)
{
    static const char *const drop[] = {".dockerenv", "Dockerfile", "dev/console",
                                       "dev/pts",    "dev/shm",    "etc/hostname"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        if (strcmp(p, drop[i]) == 0)
            return 1;
    return 0;
}

int lkb_rootfs_add_image(struct lkb_tree *root, struct lkb_image *img, const char *prefix,
                         enum lkb_resolv_mode mode, struct lkb_error *err)
{
    struct lkb_tree t;
    if (lkb_rootfs_flatten(img, &t, err) < 0) {
        lkb_tree_free(&t);
        return -1;
    }
    int rc = lkb_rootfs_prefix_dirs(root, prefix, LKB_DEFAULT_MTIME, err);
    /* The image's own "./" entry lands on prefix + "." (LinuxKit emits it
     * there), i.e. the root itself for init images. */
    if (rc == 0 && t.root.from_image) {
        if (!*prefix) {
            bool omit = root->root.omit;
            root->root = t.root;
            root->root.omit = omit;
            root->root.origin = root->origin;
        } else {
            rc = lkb_tree_add_dir(root, prefix, t.root.mode, t.root.uid, t.root.gid,
                                  t.root.mtime, err);
        }
    }
    int had_mtab = 0;
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        struct lkb_node *src = &t.nodes[i];
        if (src->removed || is_dropped(src->path))
            continue;
        struct lkb_node n = *src;
        n.path = join(prefix, src->path);
        n.link = src->link ? strdup(src->link) : NULL;
        n.blob = lkb_blob_ref(src->blob);
        n.removed = false;
        if (!n.path || (src->link && !n.link)) {
            free(n.path);
            free(n.link);
            lkb_blob_unref(n.blob);
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        if (strcmp(src->path, "etc/hosts") == 0 ||
            (strcmp(src->path, "etc/resolv.conf") == 0 && mode == LKB_RESOLV_CONTENTS)) {
            /* Replaced contents, header otherwise kept. A symlink there
             * becomes a regular file (LinuxKit fails the build instead). */
            int hosts = src->path[4] == 'h';
            lkb_blob_unref(n.blob);
            free(n.link);
            n.link = NULL;
            n.type = LKB_NODE_FILE;
            n.blob = lkb_blob_new(hosts ? hosts_text : resolv_text,
                                  hosts ? sizeof hosts_text - 1 : sizeof resolv_text - 1);
            n.mtime = LKB_DEFAULT_MTIME;
        } else if (strcmp(src->path, "etc/resolv.conf") == 0) {
            lkb_blob_unref(n.blob);
            n.blob = NULL;
            free(n.link);
            n.link = strdup(RESOLV_TARGET);
            n.type = LKB_NODE_SYMLINK;
            n.mtime = LKB_DEFAULT_MTIME;
        } else if (strcmp(src->path, "etc/mtab") == 0) {
            had_mtab = 1;
            n.mtime = LKB_DEFAULT_MTIME;
        }
        rc = lkb_tree_put(root, &n, err);
        if (rc < 0) {
            free(n.path);
            free(n.link);
            lkb_blob_unref(n.blob);
        }
    }
    lkb_tree_free(&t);
    if (rc < 0)
        return lkb_error_prefix(err, "image %s: ", img->ref);

    /* The guaranteed entries, after the image content (§3.3 step 3). */
    static const char *const dirs1[] = {"dev", "dev/pts", "dev/shm", "etc"};
    static const char *const dirs2[] = {"proc", "sys"};
    char *p = NULL;
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        p = join(prefix, dirs1[i]);
        rc = p ? lkb_tree_add_dir(root, p, 0755, 0, 0, LKB_DEFAULT_MTIME, err) : -1;
        free(p);
    }
    if (rc == 0 && (p = join(prefix, "etc/hosts"))) {
        rc = lkb_tree_add_file(root, p, hosts_text, sizeof hosts_text - 1, 0644, 0, 0,
                               LKB_DEFAULT_MTIME, err);
        free(p);
    }
    if (rc == 0 && !had_mtab && (p = join(prefix, "etc/mtab"))) {
        rc = lkb_tree_add_symlink(root, p, "/proc/mounts", 0755, 0, 0, LKB_DEFAULT_MTIME, err);
        free(p);
    }
    if (rc == 0 && (p = join(prefix, "etc/resolv.conf"))) {
        if (mode == LKB_RESOLV_CONTENTS)
            rc = lkb_tree_add_file(root, p, resolv_text, sizeof resolv_text - 1, 0644, 0, 0,
                                   LKB_DEFAULT_MTIME, err);
        else
            rc = lkb_tree_add_symlink(root, p, RESOLV_TARGET, 0644, 0, 0, LKB_DEFAULT_MTIME, err);
        free(p);
    }
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        p = join(prefix, dirs2[i]);
        rc = p ? lkb_tree_add_dir(root, p, 0755, 0, 0, LKB_DEFAULT_MTIME, err) : -1;
        free(p);
    }
    if (rc < 0 && err->kind == LKB_ERR_NONE)
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return rc;
}
