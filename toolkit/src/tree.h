/* The tree's nodes, shared by the writers inside the toolkit. */
#ifndef LKB_DISK_SRC_TREE_H
#define LKB_DISK_SRC_TREE_H

#include <lkb/disk/tree.h>

struct disk_node {
    char *name; /* one path component, UTF-8 */
    int dir;
    size_t id; /* 0..n_nodes-1 in creation order; the root is 0 */
    struct disk_node *parent;
    struct disk_node **kids;
    size_t n_kids, cap;
    /* Files: the bytes come from data, or from host_path when it is set. */
    const void *data;
    char *host_path;
    uint64_t size;
};

struct lkb_disk_tree {
    struct disk_node root;
    size_t n_nodes;
    uint64_t data_bytes;
    /* (parent, name) -> node, open addressing: adding stays O(1) in
     * directories of many thousand entries. */
    struct disk_node **index;
    size_t index_size; /* a power of two, or 0 */
};

/* The path of a node relative to the root ("a/b"), malloc'd; NULL on OOM. */
char *disk_node_path(const struct disk_node *n);

/* Copy a file node's bytes to fd at off, in pieces; -1 with err set. */
int disk_node_copy(const struct disk_node *n, int fd, uint64_t off, struct lkb_disk_error *err);

#endif
