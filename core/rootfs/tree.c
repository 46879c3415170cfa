#define _GNU_SOURCE /* memrchr */
#include "rootfs/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/str.h"

struct lkb_blob *lkb_blob_new(const void *data, size_t size)
{
    struct lkb_blob *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->refs = 1;
    b->size = size;
    if (size) {
        b->data = malloc(size);
        if (!b->data) {
            free(b);
            return NULL;
        }
        if (data)
            memcpy(b->data, data, size);
    }
    return b;
}

struct lkb_blob *lkb_blob_ref(struct lkb_blob *b)
{
    if (b)
        b->refs++;
    return b;
}

void lkb_blob_file_unref(struct lkb_blob_file *f)
{
    if (f && --f->refs == 0) {
        if (f->size)
            munmap(f->map, f->size);
        close(f->fd);
        free(f->id);
        free(f);
    }
}

struct lkb_blob *lkb_blob_range(struct lkb_blob_file *f, uint64_t off, size_t size)
{
    if (off > f->size || size > f->size - off)
        return NULL;
    struct lkb_blob *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    f->refs++;
    *b = (struct lkb_blob){.refs = 1, .mapped = size > 0, .size = size,
                           .data = f->map + off, .file = f, .off = off};
    return b;
}

void lkb_blob_unref(struct lkb_blob *b)
{
    if (b && --b->refs == 0) {
        if (b->file)
            lkb_blob_file_unref(b->file);
        else if (b->mapped)
            munmap(b->data, b->size);
        else
            free(b->data);
        free(b);
    }
}

static int read_into(unsigned char *buf, size_t size, lkb_blob_reader read, void *ctx,
                     int fd, struct lkb_error *err)
{
    for (size_t off = 0; off < size;) {
        size_t want = size - off;
        long r = read(ctx, buf + (fd >= 0 ? 0 : off), fd >= 0 && want > LKB_BLOB_SPILL_MIN
                                                          ? LKB_BLOB_SPILL_MIN : want, err);
        if (r <= 0)
            return r < 0 ? -1 : lkb_error_set(err, LKB_ERR_BUILD, "truncated (%zu of %zu bytes)",
                                             off, size);
        if (fd >= 0 && lkb_fs_write_all(fd, buf, (size_t)r, "a scratch file", err) < 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

int lkb_blob_read(size_t size, lkb_blob_reader read, void *ctx, struct lkb_blob **out,
                  struct lkb_error *err)
{
    *out = NULL;
    if (size < LKB_BLOB_SPILL_MIN) {
        struct lkb_blob *b = lkb_blob_new(NULL, size);
        if (!b)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (read_into(b->data, size, read, ctx, -1, err) < 0) {
            lkb_blob_unref(b);
            return -1;
        }
        *out = b;
        return 0;
    }
    int fd = lkb_fs_scratch_file(err);
    if (fd < 0)
        return -1;
    unsigned char *buf = malloc(LKB_BLOB_SPILL_MIN);
    struct lkb_blob *b = calloc(1, sizeof *b);
    int rc = !buf || !b ? lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory")
                        : read_into(buf, size, read, ctx, fd, err);
    free(buf);
    if (rc == 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "mapping a scratch file");
        else
            *b = (struct lkb_blob){.refs = 1, .mapped = true, .size = size, .data = m};
    }
    close(fd);
    if (rc < 0) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

static long read_fd(void *ctx, void *buf, size_t len, struct lkb_error *err)
{
    const int *fd = ctx;
    for (;;) {
        ssize_t r = read(*fd, buf, len);
        if (r >= 0 || errno != EINTR)
            return r >= 0 ? (long)r : lkb_error_errno(err, LKB_ERR_IO, errno, "reading");
    }
}

/* open(2) a regular file without blocking on a FIFO; -1 with err set. */
static int open_regular(const char *path, struct stat *st, struct lkb_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", path);
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return lkb_error_set(err, LKB_ERR_IO, "%s is not a regular file", path);
    }
    return fd;
}

int lkb_blob_read_file(const char *path, struct lkb_blob **out, struct lkb_error *err)
{
    *out = NULL;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0)
        return -1;
    int rc = lkb_blob_read((size_t)st.st_size, read_fd, &fd, out, err);
    close(fd);
    return rc < 0 ? lkb_error_prefix(err, "%s: ", path) : 0;
}

int lkb_blob_map_file(const char *path, struct lkb_blob **out, struct lkb_error *err)
{
    *out = NULL;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0)
        return -1;
    int rc = 0;
    struct lkb_blob *b = calloc(1, sizeof *b);
    if (rc == 0 && !b)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0 && st.st_size == 0) {
        *b = (struct lkb_blob){.refs = 1};
    } else if (rc == 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "mapping %s", path);
        else
            *b = (struct lkb_blob){.refs = 1, .mapped = true, .size = (size_t)st.st_size,
                                   .data = m};
    }
    close(fd);
    if (rc < 0) {
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int lkb_blob_file_map(const char *path, const char *id, struct lkb_blob_file **out,
                      struct lkb_error *err)
{
    *out = NULL;
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0)
        return -1;
    struct lkb_blob_file *f = calloc(1, sizeof *f);
    if (!f || !(f->id = strdup(id))) {
        free(f);
        close(fd);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    f->refs = 1;
    f->fd = fd;
    f->size = (size_t)st.st_size;
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            f->size = 0;
            lkb_blob_file_unref(f);
            return lkb_error_errno(err, LKB_ERR_IO, errno, "mapping %s", path);
        }
        f->map = m;
    }
    *out = f;
    return 0;
}

void lkb_blob_release(const struct lkb_blob *b, size_t off, size_t len)
{
    if (!b->mapped || !len)
        return;
    /* By address: a range of a layer starts anywhere in a page. Pages
     * shared with a neighbouring range are only read again if needed. */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)(b->data + off) & ~(page - 1);
    madvise((void *)start, (uintptr_t)(b->data + off + len) - start, MADV_DONTNEED);
}

static void node_release(struct lkb_node *n)
{
    free(n->path);
    free(n->link);
    lkb_blob_unref(n->blob);
    n->path = n->link = NULL;
    n->blob = NULL;
}

void lkb_tree_init(struct lkb_tree *t, int64_t default_mtime)
{
    memset(t, 0, sizeof *t);
    t->default_mtime = default_mtime;
    t->root = (struct lkb_root_entry){.mode = 0755, .mtime = default_mtime};
}

void lkb_tree_free(struct lkb_tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        node_release(&t->nodes[i]);
    free(t->nodes);
    free(t->slots);
    for (uint32_t i = 0; i < 2 * t->n_origins; i++)
        free(t->origins[i]);
    free(t->origins);
    memset(t, 0, sizeof *t);
}

int lkb_tree_set_origin(struct lkb_tree *t, const char *source, const char *location,
                        struct lkb_error *err)
{
    t->origin = 0;
    if (!source)
        return 0;
    for (uint32_t i = 0; i < t->n_origins; i++)
        if (!strcmp(t->origins[2 * i], source) && !strcmp(t->origins[2 * i + 1], location)) {
            t->origin = i + 1;
            return 0;
        }
    char **o = realloc(t->origins, 2 * (t->n_origins + 1) * sizeof *o);
    if (!o)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    t->origins = o;
    o[2 * t->n_origins] = strdup(source);
    o[2 * t->n_origins + 1] = strdup(location);
    if (!o[2 * t->n_origins] || !o[2 * t->n_origins + 1]) {
        free(o[2 * t->n_origins]);
        free(o[2 * t->n_origins + 1]);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    t->origin = ++t->n_origins;
    return 0;
}

int lkb_tree_set_origin_at(struct lkb_tree *t, const char *source, const char *section, size_t idx,
                           struct lkb_error *err)
{
    char *loc = lkb_strf("%s[%zu]", section, idx);
    if (!loc)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_tree_set_origin(t, source, loc, err);
    free(loc);
    return rc;
}

void lkb_tree_origin(const struct lkb_tree *t, uint32_t o, const char **source,
                     const char **location)
{
    *source = o && o <= t->n_origins ? t->origins[2 * o - 2] : NULL;
    *location = o && o <= t->n_origins ? t->origins[2 * o - 1] : NULL;
}

/* FNV-1a: small, good enough for path keys. */
static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static size_t *find_slot(struct lkb_tree *t, const char *path)
{
    if (!t->n_slots)
        return NULL;
    size_t mask = t->n_slots - 1;
    for (size_t i = hash(path) & mask;; i = (i + 1) & mask) {
        if (!t->slots[i] || strcmp(t->nodes[t->slots[i] - 1].path, path) == 0)
            return &t->slots[i];
    }
}

static int rehash(struct lkb_tree *t, size_t n_slots)
{
    size_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return -1;
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    for (size_t i = 0; i < t->n; i++)
        if (!t->nodes[i].removed)
            *find_slot(t, t->nodes[i].path) = i + 1;
    return 0;
}

/* Deletion from linear probing: rebuild the cluster after the hole. */
static void unindex(struct lkb_tree *t, const char *path)
{
    size_t *s = find_slot(t, path);
    if (!s || !*s)
        return;
    size_t mask = t->n_slots - 1, i = (size_t)(s - t->slots);
    t->slots[i] = 0;
    t->n_live--;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t v = t->slots[j];
        t->slots[j] = 0;
        *find_slot(t, t->nodes[v - 1].path) = v;
    }
}

struct lkb_node *lkb_tree_get(struct lkb_tree *t, const char *path)
{
    size_t *s = find_slot(t, path);
    return s && *s ? &t->nodes[*s - 1] : NULL;
}

int lkb_tree_clean_path(const char *in, char **out, struct lkb_error *err)
{
    size_t len = strlen(in);
    char *buf = malloc(len + 1);
    if (!buf)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    size_t o = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            free(buf);
            return lkb_error_set(err, LKB_ERR_BUILD, "path '%s' contains '..'", in);
        }
        if (n && !(n == 1 && p[0] == '.')) {
            if (o)
                buf[o++] = '/';
            memcpy(buf + o, p, n);
            o += n;
        }
        p = e;
    }
    buf[o] = '\0';
    if (!o) {
        free(buf);
        return lkb_error_set(err, LKB_ERR_BUILD, "empty path '%s'", in);
    }
    *out = buf;
    return 0;
}

static int append(struct lkb_tree *t, struct lkb_node *n)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        struct lkb_node *nn = realloc(t->nodes, nc * sizeof *nn);
        if (!nn)
            return -1;
        t->nodes = nn;
        t->cap = nc;
    }
    if ((t->n_live + 1) * 2 > t->n_slots && rehash(t, t->n_slots ? t->n_slots * 2 : 512) < 0)
        return -1;
    struct lkb_node *nn = &t->nodes[t->n];
    *nn = *n;
    *find_slot(t, n->path) = t->n + 1;
    /* Link it to its parent (inserted before it, live by the invariant
     * below) or to the top level. */
    nn->first_child = 0;
    size_t *head = &t->first_top;
    char *slash = strrchr(nn->path, '/');
    if (slash) {
        *slash = '\0';
        struct lkb_node *parent = lkb_tree_get(t, nn->path);
        *slash = '/';
        if (parent)
            head = &parent->first_child;
    }
    nn->next_sibling = *head;
    *head = t->n + 1;
    t->n++;
    t->n_live++;
    return 0;
}

/* The deepest existing ancestor of path (NULL: none). *cut is set to the
 * length of its name. Every live node's ancestors are live directories
 * (parents are inserted first and removal takes whole subtrees), so the
 * walk stops at the first one found: a deep path costs one lookup per
 * missing level, not one per level (issue 15: cubic time in depth). */
static struct lkb_node *nearest_ancestor(struct lkb_tree *t, char *path, size_t *cut)
{
    for (char *s = strrchr(path, '/'); s; s = memrchr(path, '/', (size_t)(s - path))) {
        *s = '\0';
        struct lkb_node *p = lkb_tree_get(t, path);
        *s = '/';
        if (p) {
            *cut = (size_t)(s - path);
            return p;
        }
    }
    *cut = 0;
    return NULL;
}

struct lkb_node *lkb_tree_nearest_ancestor(struct lkb_tree *t, const char *path, char **name)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    size_t cut;
    struct lkb_node *p = nearest_ancestor(t, copy, &cut);
    if (p && name) {
        copy[cut] = '\0';
        *name = copy;
    } else {
        free(copy);
    }
    return p;
}

static int ensure_parents(struct lkb_tree *t, const char *path, struct lkb_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    size_t cut;
    struct lkb_node *p = nearest_ancestor(t, copy, &cut);
    if (p && p->type != LKB_NODE_DIR) {
        copy[cut] = '\0';
        int rc = lkb_error_set(err, LKB_ERR_BUILD, "cannot create %s: %s is not a directory%s",
                               path, copy, p->type == LKB_NODE_SYMLINK ? " (it is a symlink)" : "");
        free(copy);
        return rc;
    }
    /* Create the missing levels below it, top down. */
    for (char *s = strchr(copy + cut + (p ? 1 : 0), '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        struct lkb_node d = {.type = LKB_NODE_DIR, .mode = 0755, .mtime = t->default_mtime,
                             .layer = t->layer, .origin = t->origin, .placed = t->origin};
        if (!(d.path = strdup(copy)) || append(t, &d) < 0) {
            free(d.path);
            free(copy);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        *s = '/';
    }
    free(copy);
    return 0;
}

static void tombstone(struct lkb_tree *t, struct lkb_node *n)
{
    unindex(t, n->path);
    n->removed = true;
    lkb_blob_unref(n->blob); /* tombstones hold no data */
    n->blob = NULL;
}

typedef void (*visit_fn)(struct lkb_tree *t, struct lkb_node *n, void *ctx);

/* Without memory for walk_below's stack: the same visit by a scan. */
static void scan_below(struct lkb_tree *t, const char *dir, visit_fn fn, void *ctx)
{
    size_t len = strlen(dir);
    for (size_t i = 0; i < t->n; i++) {
        struct lkb_node *n = &t->nodes[i];
        if (!n->removed && (!len || (strncmp(n->path, dir, len) == 0 && n->path[len] == '/')))
            fn(t, n, ctx);
    }
}

/* fn on every live node below dir, whose first child is `first`, through
 * the child lists: removing a subtree costs its size, not the tree's
 * (issue 15: 40 000 directory whiteouts took 13 s). A removed node's
 * subtree is gone too, so the walk does not enter it; fn may remove the
 * node it is given (its links stay). */
static void walk_below(struct lkb_tree *t, size_t first, const char *dir, visit_fn fn, void *ctx)
{
    size_t n = 0, cap = 64, *stack = malloc(cap * sizeof *stack);
    if (stack && first)
        stack[n++] = first;
    while (stack && n) {
        struct lkb_node *node = &t->nodes[stack[--n] - 1];
        size_t next[2] = {node->next_sibling, 0};
        if (!node->removed) {
            next[1] = node->first_child;
            fn(t, node, ctx);
        }
        for (int k = 0; k < 2 && stack; k++) {
            if (!next[k])
                continue;
            if (n == cap) {
                size_t *ns = realloc(stack, 2 * cap * sizeof *ns);
                if (!ns)
                    free(stack);
                stack = ns;
                cap *= 2;
            }
            if (stack)
                stack[n++] = next[k];
        }
    }
    if (!stack)
        scan_below(t, dir, fn, ctx);
    free(stack);
}

static void remove_visit(struct lkb_tree *t, struct lkb_node *n, void *ctx)
{
    (void)ctx;
    tombstone(t, n);
}

bool lkb_tree_remove(struct lkb_tree *t, const char *path)
{
    struct lkb_node *n = lkb_tree_get(t, path);
    if (!n)
        return false;
    if (n->type == LKB_NODE_DIR)
        walk_below(t, n->first_child, path, remove_visit, NULL);
    tombstone(t, n);
    return true;
}

struct keep {
    bool (*keep)(const struct lkb_node *, void *);
    void *ctx;
    size_t len; /* of the directory being cleared */
};

/* A kept entry keeps its ancestors up to the directory: marked here (the
 * walk up stops at an ancestor already marked: linear overall). */
static void mark_visit(struct lkb_tree *t, struct lkb_node *n, void *ctx)
{
    struct keep *k = ctx;
    if (!k->keep(n, k->ctx))
        return;
    n->mark = true;
    char *copy = strdup(n->path);
    for (char *s = copy ? strrchr(copy, '/') : NULL; s && (size_t)(s - copy) > k->len;
         s = memrchr(copy, '/', (size_t)(s - copy))) {
        *s = '\0';
        struct lkb_node *p = lkb_tree_get(t, copy);
        if (!p || p->mark)
            break;
        p->mark = true;
    }
    free(copy);
}

static void sweep_visit(struct lkb_tree *t, struct lkb_node *n, void *ctx)
{
    (void)ctx;
    if (n->mark)
        n->mark = false;
    else
        tombstone(t, n);
}

void lkb_tree_clear_dir(struct lkb_tree *t, const char *path,
                        bool (*keep)(const struct lkb_node *, void *), void *ctx)
{
    size_t first = t->first_top;
    if (*path) {
        struct lkb_node *d = lkb_tree_get(t, path);
        if (!d)
            return; /* nothing lives below a missing directory */
        first = d->first_child;
    }
    struct keep k = {keep, ctx, strlen(path)};
    if (keep)
        walk_below(t, first, path, mark_visit, &k);
    walk_below(t, first, path, sweep_visit, NULL);
}

int lkb_tree_put(struct lkb_tree *t, struct lkb_node *n, struct lkb_error *err)
{
    if (ensure_parents(t, n->path, err) < 0)
        return -1;
    struct lkb_node *old = lkb_tree_get(t, n->path);
    if (old && old->type == LKB_NODE_DIR && n->type == LKB_NODE_DIR) {
        old->mode = n->mode;
        old->uid = n->uid;
        old->gid = n->gid;
        old->mtime = n->mtime;
        old->layer = t->layer;
        old->origin = t->origin;
        node_release(n);
        return 0;
    }
    if (old)
        lkb_tree_remove(t, n->path);
    n->layer = t->layer;
    n->origin = n->placed = t->origin;
    if (append(t, n) < 0)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return 0;
}

int lkb_tree_add_dir(struct lkb_tree *t, const char *path, uint32_t mode, uint32_t uid,
                     uint32_t gid, int64_t mtime, struct lkb_error *err)
{
    struct lkb_node n = {.type = LKB_NODE_DIR, .mode = mode, .uid = uid, .gid = gid,
                         .mtime = mtime};
    if (!(n.path = strdup(path)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_tree_put(t, &n, err);
    if (rc < 0)
        free(n.path);
    return rc;
}

int lkb_tree_add_file(struct lkb_tree *t, const char *path, const void *data, size_t size,
                      uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime,
                      struct lkb_error *err)
{
    struct lkb_node n = {.type = LKB_NODE_FILE, .mode = mode, .uid = uid, .gid = gid,
                         .mtime = mtime};
    n.path = strdup(path);
    n.blob = lkb_blob_new(data, size);
    if (!n.path || !n.blob) {
        free(n.path);
        lkb_blob_unref(n.blob);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    int rc = lkb_tree_put(t, &n, err);
    if (rc < 0)
        node_release(&n);
    return rc;
}

int lkb_tree_add_blob(struct lkb_tree *t, const char *path, struct lkb_blob *blob, uint32_t mode,
                      uint32_t uid, uint32_t gid, int64_t mtime, struct lkb_error *err)
{
    struct lkb_node n = {.type = LKB_NODE_FILE, .mode = mode, .uid = uid, .gid = gid,
                         .mtime = mtime};
    if (!(n.path = strdup(path)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    n.blob = lkb_blob_ref(blob);
    int rc = lkb_tree_put(t, &n, err);
    if (rc < 0)
        node_release(&n);
    return rc;
}

int lkb_tree_add_symlink(struct lkb_tree *t, const char *path, const char *target, uint32_t mode,
                         uint32_t uid, uint32_t gid, int64_t mtime, struct lkb_error *err)
{
    struct lkb_node n = {.type = LKB_NODE_SYMLINK, .mode = mode, .uid = uid, .gid = gid,
                         .mtime = mtime};
    n.path = strdup(path);
    n.link = strdup(target);
    if (!n.path || !n.link) {
        node_release(&n);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    int rc = lkb_tree_put(t, &n, err);
    if (rc < 0)
        node_release(&n);
    return rc;
}
