#include "rootfs/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* An opaque marker hides lower layers' entries only: those this layer
 * placed (stamped with its number) stay. */
static bool this_layer(const struct lkb_node *n, void *ctx)
{
    return n->layer == *(const uint32_t *)ctx;
}

/* An entry must not be placed through a symlink: a secure extractor
 * would follow it outside the image's own tree. */
static int check_parents(struct lkb_tree *t, const char *path, const char *what,
                         struct lkb_error *err)
{
    /* All ancestors of a live entry are directories, so only the nearest
     * existing one can be a symlink. */
    char *name = NULL;
    struct lkb_node *p = lkb_tree_nearest_ancestor(t, path, &name);
    int rc = 0;
    if (p && p->type == LKB_NODE_SYMLINK)
        rc = lkb_error_set(err, LKB_ERR_BUILD, "layer %s: entry %s lies below the symlink %s",
                           what, path, name);
    free(name);
    return rc;
}

static long read_archive(void *ctx, void *buf, size_t len, struct lkb_error *err)
{
    struct archive *a = ctx;
    la_ssize_t r = archive_read_data(a, buf, len);
    if (r < 0)
        return lkb_error_set(err, LKB_ERR_BUILD, "%s", archive_error_string(a));
    return (long)r;
}

static int apply_entry(struct lkb_tree *t, struct archive *a, struct archive_entry *e,
                       struct lkb_blob_file *file, uint64_t file_off, const char *what,
                       struct lkb_error *err)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return lkb_error_set(err, LKB_ERR_BUILD, "layer %s: entry without a name", what);
    char *path;
    /* "./" alone is the root itself: only its metadata is kept. */
    if (strcmp(raw, ".") == 0 || strcmp(raw, "./") == 0 || strcmp(raw, "/") == 0) {
        if (archive_entry_filetype(e) != AE_IFDIR)
            return lkb_error_set(err, LKB_ERR_BUILD, "layer %s: the root entry %s is not a "
                                 "directory", what, raw);
        t->root = (struct lkb_root_entry){
            .mode = archive_entry_perm(e) & 07777,
            .uid = (uint32_t)archive_entry_uid(e),
            .gid = (uint32_t)archive_entry_gid(e),
            .mtime = archive_entry_mtime(e),
            .from_image = true,
            .origin = t->origin,
            .omit = t->root.omit,
        };
        return 0;
    }
    if (lkb_tree_clean_path(raw, &path, err) < 0)
        return lkb_error_prefix(err, "layer %s: ", what);

    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t dirlen = (size_t)(base - path);
    int rc = 0;
    if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
        char *dir = strndup(path, dirlen ? dirlen - 1 : 0);
        if (!dir) {
            free(path);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        if (strcmp(base, WH_OPAQUE) == 0) {
            /* Opaque: lower layers' children of dir disappear (LinuxKit
             * ignores these markers; the OCI spec does not). A repeated
             * marker in the same layer has nothing left to do: skipped, so
             * thousands of them cost no full walks. */
            struct lkb_node *d = *dir ? lkb_tree_get(t, dir) : NULL;
            uint32_t *done = *dir ? (d ? &d->opaque_layer : NULL) : &t->root_opaque_layer;
            if (done && *done != t->layer) {
                *done = t->layer;
                lkb_tree_clear_dir(t, dir, this_layer, &t->layer);
            }
        } else {
            const char *victim = base + strlen(WH_PREFIX);
            if (!*victim || !strcmp(victim, ".") || !strcmp(victim, "..") ||
                strncmp(victim, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
                rc = lkb_error_set(err, LKB_ERR_BUILD, "layer %s: malformed whiteout %s", what,
                                   raw);
            } else {
                size_t n = strlen(dir) + strlen(victim) + 2;
                char *target = malloc(n);
                if (!target) {
                    rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                } else {
                    snprintf(target, n, "%s%s%s", dir, *dir ? "/" : "", victim);
                    lkb_tree_remove(t, target);
                    free(target);
                }
            }
        }
        free(dir);
        free(path);
        return rc;
    }

    if (check_parents(t, path, what, err) < 0) {
        free(path);
        return -1;
    }
    struct lkb_node n = {
        .path = path,
        .mode = archive_entry_perm(e) & 07777,
        .uid = (uint32_t)archive_entry_uid(e),
        .gid = (uint32_t)archive_entry_gid(e),
        .mtime = archive_entry_mtime(e),
    };
    const char *hl = archive_entry_hardlink(e);
    if (hl) {
        char *target;
        if (lkb_tree_clean_path(hl, &target, err) < 0) {
            free(path);
            return lkb_error_prefix(err, "layer %s: hard link %s: ", what, raw);
        }
        struct lkb_node *tn = lkb_tree_get(t, target);
        if (!tn || tn->type != LKB_NODE_FILE) {
            rc = lkb_error_set(err, LKB_ERR_BUILD,
                               "layer %s: hard link %s points to %s, which is %s", what, raw, hl,
                               tn ? "not a regular file" : "missing");
            free(target);
            free(path);
            return rc;
        }
        free(target);
        /* Same blob = same inode; the link's own header is not used. */
        n.type = LKB_NODE_FILE;
        n.mode = tn->mode;
        n.uid = tn->uid;
        n.gid = tn->gid;
        n.mtime = tn->mtime;
        n.blob = lkb_blob_ref(tn->blob);
    } else {
        switch (archive_entry_filetype(e)) {
        case AE_IFREG: {
            la_int64_t size = archive_entry_size(e);
            if (size < 0 || (uint64_t)size > SIZE_MAX / 2) {
                free(path);
                return lkb_error_set(err, LKB_ERR_BUILD, "layer %s: %s has a bad size", what,
                                     raw);
            }
            if (t->layer_budget) {
                if ((uint64_t)size > t->layer_budget) {
                    free(path);
                    return lkb_error_set(err, LKB_ERR_BUILD,
                                         "layer %s expands beyond its limit at %s: refused as "
                                         "a decompression bomb (docs/limits.md)",
                                         what, raw);
                }
                t->layer_budget -= (uint64_t)size;
            }
            n.type = LKB_NODE_FILE;
            if (file && archive_entry_sparse_count(e) == 0 &&
                archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE &&
                (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR) {
                /* The data follows the header in the uncompressed tar:
                 * the reader has consumed exactly the header blocks. */
                la_int64_t off = archive_filter_bytes(a, 0);
                if (off < 0 ||
                    !(n.blob = lkb_blob_range(file, file_off + (uint64_t)off, (size_t)size))) {
                    free(path);
                    return lkb_error_set(err, LKB_ERR_BUILD, "layer %s: %s lies beyond the "
                                         "end of the layer", what, raw);
                }
            } else if (lkb_blob_read((size_t)size, read_archive, a, &n.blob, err) < 0) {
                free(path);
                err->kind = LKB_ERR_BUILD; /* the layer's fault, whatever failed */
                return lkb_error_prefix(err, "layer %s: %s: ", what, raw);
            }
            break;
        }
        case AE_IFDIR:
            n.type = LKB_NODE_DIR;
            break;
        case AE_IFLNK:
            n.type = LKB_NODE_SYMLINK;
            n.link = strdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
            break;
        case AE_IFCHR:
        case AE_IFBLK:
            n.type = archive_entry_filetype(e) == AE_IFCHR ? LKB_NODE_CHR : LKB_NODE_BLK;
            n.rdev_major = (uint32_t)archive_entry_rdevmajor(e);
            n.rdev_minor = (uint32_t)archive_entry_rdevminor(e);
            break;
        case AE_IFIFO:
            n.type = LKB_NODE_FIFO;
            break;
        default:
            free(path);
            return lkb_error_set(err, LKB_ERR_BUILD, "layer %s: %s has an unsupported type",
                                 what, raw);
        }
    }
    if ((n.type == LKB_NODE_SYMLINK && !n.link) || lkb_tree_put(t, &n, err) < 0) {
        if (n.type == LKB_NODE_SYMLINK && !n.link)
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(n.path);
        free(n.link);
        lkb_blob_unref(n.blob);
        return lkb_error_prefix(err, "layer %s: ", what);
    }
    return 0;
}

int lkb_layer_apply(struct lkb_tree *t, struct archive *a, const char *what,
                    struct lkb_error *err)
{
    return lkb_layer_apply_file(t, a, NULL, 0, what, err);
}

int lkb_layer_apply_file(struct lkb_tree *t, struct archive *a, struct lkb_blob_file *file,
                         uint64_t base, const char *what, struct lkb_error *err)
{
    t->layer++;
    struct archive_entry *e;
    int rc = 0, r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if ((rc = apply_entry(t, a, e, file, base, what, err)) < 0)
            break;
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = lkb_error_set(err, LKB_ERR_BUILD, "layer %s: %s", what, archive_error_string(a));
    return rc;
}
