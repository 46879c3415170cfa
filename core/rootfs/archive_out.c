#include "rootfs/archive_out.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Hard links: files sharing a blob. newc (and tar) carry the data once;
 * cpio newc wants it on the last link, tar on the first. */
struct link_group {
    const struct lkb_blob *blob;
    unsigned total, seen;
    size_t first; /* node index of the first name, for tar hard links */
    int64_t ino;  /* the first name's inode number, shared by every name */
};

static struct link_group *group_of(struct link_group *g, size_t n, const struct lkb_blob *b)
{
    /* Groups are few (only shared blobs): linear scan is fine. */
    for (size_t i = 0; i < n; i++)
        if (g[i].blob == b)
            return &g[i];
    return NULL;
}

static int64_t clamp(int64_t mtime, int64_t mtime_clamp)
{
    return mtime_clamp >= 0 && mtime > mtime_clamp ? mtime_clamp : mtime;
}

/* archive_write_data() takes at most INT_MAX bytes per call (libarchive
 * caps it so its int-based filters cope): loop for files of 2 GiB+. A
 * mapped blob goes in 1 MiB steps, each released once written, so the
 * pages of a large file do not stay in memory. */
static int write_data(struct archive *a, const struct lkb_blob *b, size_t size)
{
    size_t step = b->mapped ? LKB_BLOB_SPILL_MIN : size;
    for (size_t off = 0; off < size;) {
        size_t want = size - off < step ? size - off : step;
        la_ssize_t w = archive_write_data(a, b->data + off, want);
        if (w <= 0)
            return -1;
        lkb_blob_release(b, off, (size_t)w);
        off += (size_t)w;
    }
    return 0;
}

/* libarchive says "Write error"; the errno it keeps says why. */
static int write_error(struct archive *a, const char *path, struct lkb_error *err)
{
    const char *msg = archive_error_string(a) ? archive_error_string(a) : "write failed";
    int e = archive_errno(a);
    if (e > 0 && !strstr(msg, strerror(e)))
        return lkb_error_errno(err, LKB_ERR_BUILD, e, "writing %s: %s", path, msg);
    return lkb_error_set(err, LKB_ERR_BUILD, "writing %s: %s", path, msg);
}

static int write_root(struct lkb_tree *t, struct archive *a, struct archive_entry *e,
                      int64_t mtime_clamp, struct lkb_error *err)
{
    archive_entry_set_pathname(e, ".");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, t->root.mode);
    archive_entry_set_uid(e, t->root.uid);
    archive_entry_set_gid(e, t->root.gid);
    archive_entry_set_mtime(e, clamp(t->root.mtime, mtime_clamp), 0);
    archive_entry_set_nlink(e, 2);
    archive_entry_set_ino64(e, 1);
    archive_entry_set_size(e, 0);
    return archive_write_header(a, e) < ARCHIVE_WARN ? write_error(a, ".", err) : 0;
}

int lkb_tree_write_archive(struct lkb_tree *t, struct archive *a, lkb_tree_skip_fn skip,
                           void *ctx, int64_t mtime_clamp, struct lkb_error *err)
{
    int cpio = archive_format(a) == ARCHIVE_FORMAT_CPIO_SVR4_NOCRC ||
               (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_CPIO;
    /* Count names per shared blob among the entries we will write. */
    struct link_group *groups = NULL;
    size_t n_groups = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct lkb_node *n = &t->nodes[i];
        if (n->removed || n->type != LKB_NODE_FILE || n->blob->refs < 2 || (skip && skip(n, ctx)))
            continue;
        struct link_group *g = group_of(groups, n_groups, n->blob);
        if (!g) {
            struct link_group *ng = realloc(groups, (n_groups + 1) * sizeof *ng);
            if (!ng) {
                free(groups);
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            }
            groups = ng;
            g = &groups[n_groups++];
            *g = (struct link_group){n->blob, 0, 0, i, 0};
        }
        g->total++;
    }

    struct archive_entry *e = archive_entry_new();
    int rc = t->root.omit ? 0 : write_root(t, a, e, mtime_clamp, err);
    int64_t ino = 2;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        struct lkb_node *n = &t->nodes[i];
        if (n->removed || (skip && skip(n, ctx)))
            continue;
        archive_entry_clear(e);
        archive_entry_set_pathname(e, n->path);
        archive_entry_set_uid(e, n->uid);
        archive_entry_set_gid(e, n->gid);
        archive_entry_set_mtime(e, clamp(n->mtime, mtime_clamp), 0);
        archive_entry_set_perm(e, n->mode);
        archive_entry_set_nlink(e, n->type == LKB_NODE_DIR ? 2 : 1);
        /* Deterministic inode numbers: never the host's. */
        archive_entry_set_ino64(e, ino++);
        size_t size = 0;
        struct link_group *g = NULL;
        switch (n->type) {
        case LKB_NODE_FILE:
            archive_entry_set_filetype(e, AE_IFREG);
            size = n->blob->size;
            g = n->blob->refs > 1 ? group_of(groups, n_groups, n->blob) : NULL;
            if (g) {
                /* The first name's number from the running count, not
                 * its node index: tombstones must not change the bytes. */
                if (++g->seen == 1)
                    g->ino = ino - 1;
                archive_entry_set_nlink(e, g->total);
                archive_entry_set_ino64(e, g->ino);
                if (cpio && g->seen < g->total) {
                    size = 0; /* data goes with the last link */
                } else if (!cpio && g->seen > 1) {
                    archive_entry_set_hardlink(e, t->nodes[g->first].path);
                    size = 0;
                }
            }
            break;
        case LKB_NODE_DIR:
            archive_entry_set_filetype(e, AE_IFDIR);
            break;
        case LKB_NODE_SYMLINK:
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, n->link);
            break;
        case LKB_NODE_CHR:
        case LKB_NODE_BLK:
            archive_entry_set_filetype(e, n->type == LKB_NODE_CHR ? AE_IFCHR : AE_IFBLK);
            archive_entry_set_rdevmajor(e, n->rdev_major);
            archive_entry_set_rdevminor(e, n->rdev_minor);
            break;
        case LKB_NODE_FIFO:
            archive_entry_set_filetype(e, AE_IFIFO);
            break;
        }
        archive_entry_set_size(e, (la_int64_t)size);
        if (archive_write_header(a, e) < ARCHIVE_WARN ||
            (size && write_data(a, n->blob, size) < 0)) {
            rc = write_error(a, n->path, err);
            break;
        }
    }
    archive_entry_free(e);
    free(groups);
    return rc;
}
