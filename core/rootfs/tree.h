/* The root file system being built, in memory: nothing is extracted onto
 * the host, so no root privileges, no mknod, no host path tricks.
 *
 * Entries keep insertion order (parents are always inserted before their
 * children), which is the order the initrd and tar are written in, so the
 * output is deterministic. File data is a refcounted blob; several regular
 * files sharing one blob are hard links of one inode. */
#ifndef LKB_ROOTFS_TREE_H
#define LKB_ROOTFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/error.h"

enum lkb_node_type { LKB_NODE_FILE, LKB_NODE_DIR, LKB_NODE_SYMLINK, LKB_NODE_CHR, LKB_NODE_BLK,
                     LKB_NODE_FIFO };

/* An unpacked layer (core/rootfs/unpacked.h) mapped read-only, shared by
 * the blobs that are ranges of it. id names its content (the layer's
 * diff_id), so a range is identified by (id, offset, size) without reading
 * it. */
struct lkb_blob_file {
    unsigned refs;
    int fd; /* open read-only, for copy_file_range */
    unsigned char *map;
    size_t size;
    char *id;
};

/* File data. Large contents live in an unlinked scratch file mapped
 * read-only (mapped = true): the page cache holds them, not the heap, and
 * writers drop the pages once written, so memory stays bounded whatever
 * an image holds. A range of an unpacked layer (file != NULL) is mapped
 * too, data pointing into the layer's mapping: nothing is copied. */
struct lkb_blob {
    unsigned refs;
    bool mapped;
    size_t size;
    unsigned char *data;
    struct lkb_blob_file *file; /* the layer this is a range of, or NULL */
    uint64_t off;               /* the range's offset in file */
};

/* Contents of at least this size are spilled to a scratch file. */
#define LKB_BLOB_SPILL_MIN ((size_t)1 << 20)

struct lkb_node {
    char *path; /* relative, cleaned, no leading or trailing '/' */
    enum lkb_node_type type;
    uint32_t mode; /* permission bits incl. setuid/setgid/sticky */
    uint32_t uid, gid;
    int64_t mtime;
    struct lkb_blob *blob; /* FILE */
    char *link;            /* SYMLINK target, as written */
    uint32_t rdev_major, rdev_minor;
    bool removed; /* tombstone, skipped on output */
    bool mark;    /* scratch for lkb_tree_clear_dir */
    uint32_t layer; /* lkb_tree.layer when placed (or re-placed) */
    uint32_t opaque_layer; /* the layer whose opaque marker last emptied this directory */
    uint32_t origin; /* lkb_tree.origin when written: who wrote it last (0 = unknown) */
    uint32_t placed; /* lkb_tree.origin when appended: whose write set its position (a
                        directory written again keeps its place) */
    /* Children (index + 1, 0 = none), so a subtree is removed in its own
     * size, not the tree's. Removed nodes keep their links. */
    size_t first_child, next_sibling;
};

/* The root directory's own entry ("."), written first by the archive
 * writers: without it the kernel leaves the initramfs root at its tmpfs
 * default 1777, and LinuxKit's init copies that mode onto the real root.
 * 0755 root:root with the default mtime unless an image's layer or
 * kernel.tar carries a "./" entry; then, as in LinuxKit, the last such
 * entry wins. */
struct lkb_root_entry {
    uint32_t mode, uid, gid;
    int64_t mtime;
    bool from_image; /* set by a "./" entry */
    uint32_t origin;  /* who set it, as lkb_node.origin */
    bool omit;       /* archives that are not a root file system */
};

struct lkb_tree {
    struct lkb_root_entry root;
    struct lkb_node *nodes;
    size_t n, cap;
    size_t *slots; /* open-addressing hash of live node indices (+1; 0 = empty) */
    size_t n_slots, n_live;
    int64_t default_mtime; /* for implicitly created parents */
    uint32_t layer;        /* the layer being applied, stamped on new nodes */
    uint32_t root_opaque_layer;
    uint64_t layer_budget; /* bytes of file data the layer being applied may still
                              add; 0 = unlimited (set by lkb_rootfs_flatten) */
    size_t first_top; /* top-level nodes, linked like children */
    /* Provenance for the tar's LINUXKIT.source/location records: origin i
     * (1-based) is origins[2i-2] (source) and origins[2i-1] (location). */
    uint32_t origin; /* stamped on every entry put, see lkb_tree_set_origin */
    char **origins;
    uint32_t n_origins;
};

/* An empty tree whose root entry is 0755 root:root at default_mtime. */
void lkb_tree_init(struct lkb_tree *t, int64_t default_mtime);
void lkb_tree_free(struct lkb_tree *t);

/* Clean a path from an archive or the YAML: strip "./" and leading '/',
 * collapse "//" and "." components. Fails on ".." components (they could
 * escape the root) and on empty results. *out is malloc'd. */
int lkb_tree_clean_path(const char *in, char **out, struct lkb_error *err);

struct lkb_node *lkb_tree_get(struct lkb_tree *t, const char *path);

/* Entries put from now on (implicit parents included) were written by
 * source (an image's canonical reference, "linuxkit.files", ...) for
 * location ("init[0]", "files[2]", ...), LinuxKit's PAX records. NULL
 * source: unknown from now on. */
int lkb_tree_set_origin(struct lkb_tree *t, const char *source, const char *location,
                        struct lkb_error *err);
/* The same with location "section[idx]". */
int lkb_tree_set_origin_at(struct lkb_tree *t, const char *source, const char *section, size_t idx,
                           struct lkb_error *err);
/* The source and location of origin id (a node's origin or placed), or
 * NULLs when unknown. */
void lkb_tree_origin(const struct lkb_tree *t, uint32_t id, const char **source,
                     const char **location);

/* The deepest existing ancestor of path, or NULL. With name, *name is set
 * to its path (malloc'd). */
struct lkb_node *lkb_tree_nearest_ancestor(struct lkb_tree *t, const char *path, char **name);

/* Insert or replace the entry at n->path (already cleaned; ownership of
 * path, link and the blob reference moves to the tree). A directory over a
 * directory keeps its position and takes the new metadata; anything else
 * replaces the old entry (and its subtree). Missing parents are created as
 * 0755 root directories. Fails if a parent is not a directory. */
int lkb_tree_put(struct lkb_tree *t, struct lkb_node *n, struct lkb_error *err);

/* Remove path and everything below it. Returns whether anything existed. */
bool lkb_tree_remove(struct lkb_tree *t, const char *path);

/* Remove everything below path (keeping path; "" is the root), except
 * the entries keep() accepts and their ancestors. */
void lkb_tree_clear_dir(struct lkb_tree *t, const char *path,
                        bool (*keep)(const struct lkb_node *, void *), void *ctx);

/* Helpers for generated entries. */
int lkb_tree_add_dir(struct lkb_tree *t, const char *path, uint32_t mode, uint32_t uid,
                     uint32_t gid, int64_t mtime, struct lkb_error *err);
int lkb_tree_add_file(struct lkb_tree *t, const char *path, const void *data, size_t size,
                      uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime,
                      struct lkb_error *err);
/* Like lkb_tree_add_file with a blob of data (a new reference is taken). */
int lkb_tree_add_blob(struct lkb_tree *t, const char *path, struct lkb_blob *blob, uint32_t mode,
                      uint32_t uid, uint32_t gid, int64_t mtime, struct lkb_error *err);
/* mode as LinuxKit writes it in the tar (the kernel ignores a symlink's). */
int lkb_tree_add_symlink(struct lkb_tree *t, const char *path, const char *target, uint32_t mode,
                         uint32_t uid, uint32_t gid, int64_t mtime, struct lkb_error *err);

struct lkb_blob *lkb_blob_new(const void *data, size_t size);
/* A blob of size bytes read by read(ctx, buf, len) (returns bytes read,
 * 0 at a premature end, -1 on error with err set), spilled to a scratch
 * file when large. */
typedef long (*lkb_blob_reader)(void *ctx, void *buf, size_t len, struct lkb_error *err);
int lkb_blob_read(size_t size, lkb_blob_reader read, void *ctx, struct lkb_blob **out,
                  struct lkb_error *err);
/* A copy of the regular file at path (spilled when large); anything else,
 * a FIFO or a device, is refused. */
int lkb_blob_read_file(const char *path, struct lkb_blob **out, struct lkb_error *err);
/* The regular file at path itself as a read-only mapped blob. */
int lkb_blob_map_file(const char *path, struct lkb_blob **out, struct lkb_error *err);
/* Tell the kernel the pages of [off, off+len) of a mapped blob may go. */
void lkb_blob_release(const struct lkb_blob *b, size_t off, size_t len);
struct lkb_blob *lkb_blob_ref(struct lkb_blob *b);
/* Map the regular file at path (read-only) as a layer file named id. */
int lkb_blob_file_map(const char *path, const char *id, struct lkb_blob_file **out,
                      struct lkb_error *err);
void lkb_blob_file_unref(struct lkb_blob_file *f);
/* A blob of [off, off+size) of f (a new reference to f is taken); NULL
 * when out of memory or out of range. */
struct lkb_blob *lkb_blob_range(struct lkb_blob_file *f, uint64_t off, size_t size);
void lkb_blob_unref(struct lkb_blob *b);

#endif
