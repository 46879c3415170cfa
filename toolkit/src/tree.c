#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define COPY_CHUNK (1u << 20)

struct lkb_disk_tree *lkb_disk_tree_new(void)
{
    struct lkb_disk_tree *t = calloc(1, sizeof *t);
    if (t) {
        t->root.dir = 1;
        t->n_nodes = 1;
    }
    return t;
}

static void free_node(struct disk_node *n)
{
    for (size_t i = 0; i < n->n_kids; i++) {
        free_node(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    free(n->name);
    free(n->host_path);
}

void lkb_disk_tree_free(struct lkb_disk_tree *t)
{
    if (t) {
        free_node(&t->root);
        free(t->index);
        free(t);
    }
}

static size_t slot_of(const struct lkb_disk_tree *t, const struct disk_node *parent,
                      const char *name, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ parent->id;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * UINT64_C(0x100000001b3);
    return (size_t)(h ^ (h >> 29)) & (t->index_size - 1);
}

static void index_put(struct lkb_disk_tree *t, struct disk_node *n)
{
    size_t i = slot_of(t, n->parent, n->name, strlen(n->name));
    while (t->index[i])
        i = (i + 1) & (t->index_size - 1);
    t->index[i] = n;
}

static void index_all(struct lkb_disk_tree *t, struct disk_node *d)
{
    for (size_t i = 0; i < d->n_kids; i++) {
        index_put(t, d->kids[i]);
        index_all(t, d->kids[i]);
    }
}

/* Room for one more node (load at most 1/2); -1 on OOM. */
static int index_grow(struct lkb_disk_tree *t)
{
    if ((t->n_nodes + 1) * 2 <= t->index_size)
        return 0;
    size_t size = t->index_size ? t->index_size * 2 : 64;
    struct disk_node **idx = calloc(size, sizeof *idx);
    if (!idx)
        return -1;
    free(t->index);
    t->index = idx;
    t->index_size = size;
    index_all(t, &t->root);
    return 0;
}

uint64_t lkb_disk_tree_data_bytes(const struct lkb_disk_tree *t) { return t->data_bytes; }

char *disk_node_path(const struct disk_node *n)
{
    /* One byte per component for its '/' (or, for the last, the NUL). */
    size_t len = 0;
    for (const struct disk_node *p = n; p->parent; p = p->parent)
        len += strlen(p->name) + 1;
    char *s = malloc(len ? len : 1);
    if (!s || !len) {
        if (s)
            s[0] = '\0';
        return s;
    }
    size_t end = len - 1;
    s[end] = '\0';
    for (const struct disk_node *p = n; p->parent; p = p->parent) {
        size_t l = strlen(p->name);
        end -= l;
        memcpy(s + end, p->name, l);
        if (end)
            s[--end] = '/';
    }
    return s;
}

static struct disk_node *find(const struct lkb_disk_tree *t, const struct disk_node *d,
                              const char *name, size_t len)
{
    if (!t->index_size)
        return NULL;
    for (size_t i = slot_of(t, d, name, len); t->index[i]; i = (i + 1) & (t->index_size - 1)) {
        const struct disk_node *n = t->index[i];
        if (n->parent == d && strncmp(n->name, name, len) == 0 && n->name[len] == '\0')
            return t->index[i];
    }
    return NULL;
}

static struct disk_node *add_kid(struct lkb_disk_tree *t, struct disk_node *d, const char *name,
                                 size_t len, int dir)
{
    if (index_grow(t) < 0)
        return NULL;
    if (d->n_kids == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        struct disk_node **nk = realloc(d->kids, nc * sizeof *nk);
        if (!nk)
            return NULL;
        d->kids = nk;
        d->cap = nc;
    }
    struct disk_node *c = calloc(1, sizeof *c);
    if (!c || !(c->name = strndup(name, len))) {
        free(c);
        return NULL;
    }
    c->dir = dir;
    c->parent = d;
    c->id = t->n_nodes++;
    d->kids[d->n_kids++] = c;
    index_put(t, c);
    return c;
}

/* Walk to the parent directory of `path`, creating directories; *leaf and
 * *leaf_len name the last component. */
static struct disk_node *walk(struct lkb_disk_tree *t, const char *path, const char **leaf,
                              size_t *leaf_len, struct lkb_disk_error *err)
{
    struct disk_node *d = &t->root;
    const char *p = path;
    while (*p == '/')
        p++;
    for (;;) {
        const char *s = strchr(p, '/');
        size_t len = s ? (size_t)(s - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            disk_error(err, "invalid path \"%s\" in the file tree (empty, . or .. component)",
                       path);
            return NULL;
        }
        if (!s || s[1] == '\0') {
            *leaf = p;
            *leaf_len = len;
            return d;
        }
        struct disk_node *c = find(t, d, p, len);
        if (c && !c->dir) {
            disk_error(err, "\"%s\": \"%.*s\" is a file, not a directory", path,
                       (int)(s - path), path);
            return NULL;
        }
        if (!c && !(c = add_kid(t, d, p, len, 1))) {
            disk_error(err, "out of memory");
            return NULL;
        }
        d = c;
        p = s + 1;
    }
}

static struct disk_node *add_file(struct lkb_disk_tree *t, const char *path,
                                  struct lkb_disk_error *err)
{
    const char *leaf;
    size_t len;
    struct disk_node *d = walk(t, path, &leaf, &len, err), *f;
    if (!d)
        return NULL;
    if (find(t, d, leaf, len)) {
        disk_error(err, "\"%s\" is in the file tree twice", path);
        return NULL;
    }
    if (!(f = add_kid(t, d, leaf, len, 0)))
        disk_error(err, "out of memory");
    return f;
}

int lkb_disk_tree_add_data(struct lkb_disk_tree *t, const char *path, const void *data,
                           size_t size, struct lkb_disk_error *err)
{
    struct disk_node *f = add_file(t, path, err);
    if (!f)
        return -1;
    f->data = data;
    f->size = size;
    t->data_bytes += size;
    return 0;
}

int lkb_disk_tree_add_file(struct lkb_disk_tree *t, const char *path, const char *host_path,
                           struct lkb_disk_error *err)
{
    struct stat st;
    if (stat(host_path, &st) < 0)
        return disk_errno(err, errno, "%s", host_path);
    if (!S_ISREG(st.st_mode))
        return disk_error(err, "%s is not a regular file", host_path);
    char *hp = strdup(host_path);
    struct disk_node *f = hp ? add_file(t, path, err) : NULL;
    if (!f) {
        free(hp);
        return hp ? -1 : disk_error(err, "out of memory");
    }
    f->host_path = hp;
    f->size = (uint64_t)st.st_size;
    t->data_bytes += f->size;
    return 0;
}

int lkb_disk_tree_add_dir(struct lkb_disk_tree *t, const char *path, struct lkb_disk_error *err)
{
    const char *leaf;
    size_t len;
    struct disk_node *d = walk(t, path, &leaf, &len, err);
    if (!d)
        return -1;
    struct disk_node *c = find(t, d, leaf, len);
    if (c && !c->dir)
        return disk_error(err, "\"%s\" is in the file tree as a file and a directory", path);
    if (!c && !add_kid(t, d, leaf, len, 1))
        return disk_error(err, "out of memory");
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Join a and b with '/', skipping the separator when a is empty. */
static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 2);
    if (s) {
        memcpy(s, a, la);
        size_t o = la;
        if (la)
            s[o++] = '/';
        memcpy(s + o, b, lb + 1);
    }
    return s;
}

int lkb_disk_tree_add_host_dir(struct lkb_disk_tree *t, const char *path, const char *host_dir,
                               struct lkb_disk_error *err)
{
    DIR *dir = opendir(host_dir);
    if (!dir)
        return disk_errno(err, errno, "%s", host_dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; rc == 0 && (errno = 0, de = readdir(dir));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = disk_error(err, "out of memory");
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name)))
            rc = disk_error(err, "out of memory");
        else
            n++;
    }
    if (rc == 0 && errno)
        rc = disk_errno(err, errno, "reading %s", host_dir);
    closedir(dir);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *src = join(host_dir, names[i]), *dst = join(path, names[i]);
        struct stat st;
        if (!src || !dst)
            rc = disk_error(err, "out of memory");
        else if (lstat(src, &st) < 0)
            rc = disk_errno(err, errno, "%s", src);
        else if (S_ISDIR(st.st_mode))
            rc = lkb_disk_tree_add_dir(t, dst, err) ||
                 lkb_disk_tree_add_host_dir(t, dst, src, err);
        else if (S_ISREG(st.st_mode))
            rc = lkb_disk_tree_add_file(t, dst, src, err);
        else
            rc = disk_error(err, "%s: only regular files and directories can go into the image",
                            src);
        free(src);
        free(dst);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc ? -1 : 0;
}

/* "writing \"a/b\" into the image: <errno>" */
static int write_error(const struct disk_node *n, struct lkb_disk_error *err)
{
    int e = errno;
    char *path = disk_node_path(n);
    disk_errno(err, e, "writing \"%s\" into the image", path ? path : n->name);
    free(path);
    return -1;
}

int disk_node_copy(const struct disk_node *n, int fd, uint64_t off, struct lkb_disk_error *err)
{
    if (!n->host_path)
        return n->size && disk_pwrite_all(fd, n->data, (size_t)n->size, off) < 0
                   ? write_error(n, err)
                   : 0;
    int in = open(n->host_path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return disk_errno(err, errno, "%s", n->host_path);
    char *buf = malloc(COPY_CHUNK);
    uint64_t done = 0;
    int rc = buf ? 0 : disk_error(err, "out of memory");
    while (rc == 0) {
        ssize_t r = read(in, buf, COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = disk_errno(err, errno, "reading %s", n->host_path);
        else if (r == 0)
            break;
        else if (done + (uint64_t)r > n->size)
            break;
        else if (disk_pwrite_all(fd, buf, (size_t)r, off + done) < 0)
            rc = write_error(n, err);
        else
            done += (uint64_t)r;
    }
    if (rc == 0 && done != n->size)
        rc = disk_error(err, "%s changed size while the image was written", n->host_path);
    free(buf);
    close(in);
    return rc;
}
