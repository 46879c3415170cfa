/* A file tree to put into a file system image: directories and regular
 * files whose bytes come from memory or from a file on the host. Writers
 * (lkb/disk/fat.h) read the files while they write, in pieces, so no image
 * and no whole file is buffered. Entries keep the order they were added in;
 * lkb_disk_tree_add_host_dir adds a directory's entries sorted by name so
 * the result does not depend on the host file system's order. */
#ifndef LKB_DISK_TREE_H
#define LKB_DISK_TREE_H

#include <lkb/disk/error.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lkb_disk_tree;

struct lkb_disk_tree *lkb_disk_tree_new(void);
void lkb_disk_tree_free(struct lkb_disk_tree *t);

/* A file at `path` ("a/b/c.txt": parents are created) whose bytes are
 * data[size]. The data is NOT copied: it must stay valid until the tree is
 * written. A path already present is an error. */
int lkb_disk_tree_add_data(struct lkb_disk_tree *t, const char *path, const void *data,
                           size_t size, struct lkb_disk_error *err);

/* A file at `path` whose bytes are read from host_path when the tree is
 * written (its size is taken now; a file that changes size is an error). */
int lkb_disk_tree_add_file(struct lkb_disk_tree *t, const char *path, const char *host_path,
                           struct lkb_disk_error *err);

/* An (empty) directory at `path`; existing directories are kept. */
int lkb_disk_tree_add_dir(struct lkb_disk_tree *t, const char *path, struct lkb_disk_error *err);

/* Everything under host_dir, recursively, below `path` ("" = the root).
 * Regular files and directories only: symlinks, devices and sockets are
 * an error naming them (FAT cannot hold them). */
int lkb_disk_tree_add_host_dir(struct lkb_disk_tree *t, const char *path, const char *host_dir,
                               struct lkb_disk_error *err);

/* Total bytes of file data in the tree. */
uint64_t lkb_disk_tree_data_bytes(const struct lkb_disk_tree *t);

#ifdef __cplusplus
}
#endif

#endif
