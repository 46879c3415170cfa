#include "pipeline/rootfs_tar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#define BLOCK 512
#define BUF_SIZE ((size_t)64 << 10)

int lkb_tar_begin(struct lkb_tar_writer *w, int fd, const char *what, struct lkb_error *err)
{
    *w = (struct lkb_tar_writer){.fd = fd, .what = what, .buf = malloc(BUF_SIZE)};
    return w->buf ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

static int flush(struct lkb_tar_writer *w, struct lkb_error *err)
{
    int rc = w->len ? lkb_fs_write_all(w->fd, w->buf, w->len, w->what, err) : 0;
    w->len = 0;
    return rc;
}

static int put(struct lkb_tar_writer *w, const void *data, size_t n, struct lkb_error *err)
{
    const unsigned char *p = data;
    while (n) {
        if (w->len == BUF_SIZE && flush(w, err) < 0)
            return -1;
        size_t k = BUF_SIZE - w->len < n ? BUF_SIZE - w->len : n;
        memcpy(w->buf + w->len, p, k);
        w->len += k, p += k, n -= k;
    }
    return 0;
}

static int pad(struct lkb_tar_writer *w, uint64_t size, struct lkb_error *err)
{
    static const unsigned char zero[BLOCK];
    size_t r = (size_t)(size % BLOCK);
    return r ? put(w, zero, BLOCK - r, err) : 0;
}

/* ---- ustar fields ---- */

/* Octal, zero-padded, NUL-terminated in a field of width bytes; 0 when
 * the value does not fit (then a pax record carries it). */
static bool octal(unsigned char *field, size_t width, uint64_t v)
{
    bool fits = width - 1 >= 22 || v < ((uint64_t)1 << (3 * (width - 1)));
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%0*llo", (int)(width - 1), (unsigned long long)(fits ? v : 0));
    memcpy(field, tmp, width - 1);
    field[width - 1] = '\0';
    return fits;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* The name as a ustar field holds it: ASCII only, at most 100 bytes. */
static void name_field(unsigned char *field, const char *s)
{
    size_t n = 0;
    for (; *s && n < 100; s++)
        if ((unsigned char)*s < 0x80)
            field[n++] = (unsigned char)*s;
}

struct entry {
    const char *name, *link;
    char type;
    uint32_t mode, uid, gid, devmajor, devminor;
    uint64_t size;
    int64_t mtime;
    const char *source, *location; /* LinuxKit's records, or NULL */
    /* lkb's own, for -input-tar: the section whose write placed a
     * directory that a later section wrote again (NULL otherwise). */
    const char *placed_source, *placed_location;
};

static int header(struct lkb_tar_writer *w, const struct entry *e, bool dev_fields,
                  struct lkb_error *err)
{
    unsigned char h[BLOCK] = {0};
    name_field(h, e->name);
    octal(h + 100, 8, e->mode & 07777);
    octal(h + 108, 8, e->uid);
    octal(h + 116, 8, e->gid);
    octal(h + 124, 12, e->size);
    octal(h + 136, 12, e->mtime < 0 ? 0 : (uint64_t)e->mtime);
    h[156] = (unsigned char)e->type;
    if (e->link)
        name_field(h + 157, e->link);
    memcpy(h + 257, "ustar\0" "00", 8);
    if (dev_fields) {
        octal(h + 329, 8, e->devmajor);
        octal(h + 337, 8, e->devminor);
    }
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return put(w, h, BLOCK, err);
}

/* "<len> <key>=<value>\n", len counting itself. */
static int record(char **buf, size_t *len, const char *key, const char *value)
{
    size_t base = strlen(key) + strlen(value) + 3, n;
    /* Smallest n with n == base + digits(n). */
    for (n = base + 1; n != base + (size_t)snprintf(NULL, 0, "%zu", n); n++)
        ;
    char *b = realloc(*buf, *len + n + 1);
    if (!b)
        return -1;
    *buf = b;
    snprintf(b + *len, n + 1, "%zu %s=%s\n", n, key, value);
    *len += n;
    return 0;
}

/* The pax header before e when it needs one; records in key order. */
static int pax(struct lkb_tar_writer *w, const struct entry *e, struct lkb_error *err)
{
    unsigned char probe[12];
    char num[32];
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (e->source && e->location)
        rc |= record(&buf, &len, "LINUXKIT.location", e->location) |
              record(&buf, &len, "LINUXKIT.source", e->source);
    if (e->placed_source && e->placed_location)
        rc |= record(&buf, &len, "LKB.placed.location", e->placed_location) |
              record(&buf, &len, "LKB.placed.source", e->placed_source);
    if (!octal(probe, 8, e->gid) && snprintf(num, sizeof num, "%u", e->gid))
        rc |= record(&buf, &len, "gid", num);
    if (e->link && (strlen(e->link) > 100 || !is_ascii(e->link)))
        rc |= record(&buf, &len, "linkpath", e->link);
    if ((e->mtime < 0 || !octal(probe, 12, (uint64_t)e->mtime)) &&
        snprintf(num, sizeof num, "%lld", (long long)e->mtime))
        rc |= record(&buf, &len, "mtime", num);
    if (strlen(e->name) > 100 || !is_ascii(e->name))
        rc |= record(&buf, &len, "path", e->name);
    if (!octal(probe, 12, e->size) && snprintf(num, sizeof num, "%llu",
                                               (unsigned long long)e->size))
        rc |= record(&buf, &len, "size", num);
    if (!octal(probe, 8, e->uid) && snprintf(num, sizeof num, "%u", e->uid))
        rc |= record(&buf, &len, "uid", num);
    if (rc) {
        free(buf);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (!len)
        return 0;
    /* Named <dir>/PaxHeaders.0/<base>, as Go's archive/tar does. */
    const char *slash = strcmp(e->name, "./") ? strrchr(e->name, '/') : NULL;
    size_t dlen = slash ? (size_t)(slash - e->name) + 1 : 0;
    char *name = malloc(dlen + strlen(e->name) + 16);
    if (!name) {
        free(buf);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    memcpy(name, e->name, dlen);
    strcpy(name + dlen, "PaxHeaders.0");
    if (slash || strcmp(e->name, "./")) /* the root's is "PaxHeaders.0" */
        strcat(strcat(name, "/"), e->name + dlen);
    struct entry x = {.name = name, .type = 'x', .size = len};
    rc = header(w, &x, false, err);
    if (rc == 0)
        rc = put(w, buf, len, err);
    if (rc == 0)
        rc = pad(w, len, err);
    free(name);
    free(buf);
    return rc;
}

static int entry(struct lkb_tar_writer *w, const struct entry *e, struct lkb_error *err)
{
    if (pax(w, e, err) < 0 || header(w, e, true, err) < 0)
        return -1;
    return 0;
}

/* A range of an unpacked layer copied by the kernel (no page of it mapped
 * into this process); 1 when the kernel refuses (lkb_fs_copy_range),
 * before anything was written. */
static int copy_range(struct lkb_tar_writer *w, const struct lkb_blob *b, struct lkb_error *err)
{
    if (flush(w, err) < 0)
        return -1;
    int rc = lkb_fs_copy_range(b->file->fd, (off_t)b->off, w->fd, b->size);
    return rc < 0 ? lkb_error_errno(err, LKB_ERR_IO, errno, "writing %s", w->what) : rc;
}

/* Files this large are copied by the kernel when they are layer ranges. */
#define COPY_RANGE_MIN ((size_t)64 << 10)

/* File data; a mapped blob in 1 MiB steps, each released once written. */
static int data(struct lkb_tar_writer *w, const struct lkb_blob *b, struct lkb_error *err)
{
    if (b->file && b->size >= COPY_RANGE_MIN) {
        int rc = copy_range(w, b, err);
        if (rc <= 0)
            return rc < 0 ? -1 : pad(w, b->size, err);
    }
    if (!b->mapped || b->size < COPY_RANGE_MIN) {
        int rc = put(w, b->data, b->size, err);
        lkb_blob_release(b, 0, b->size);
        return rc < 0 ? -1 : pad(w, b->size, err);
    }
    if (flush(w, err) < 0)
        return -1;
    for (size_t off = 0; off < b->size;) {
        size_t n = b->size - off < LKB_BLOB_SPILL_MIN ? b->size - off : LKB_BLOB_SPILL_MIN;
        if (lkb_fs_write_all(w->fd, b->data + off, n, w->what, err) < 0)
            return -1;
        lkb_blob_release(b, off, n);
        off += n;
    }
    return pad(w, b->size, err);
}

static int64_t clamp(int64_t mtime, int64_t c) { return c >= 0 && mtime > c ? c : mtime; }

/* Files sharing a blob are hard links: the first name written carries
 * the data. Shared blobs are few, so a linear list does. */
struct first_name {
    const struct lkb_blob *blob;
    const char *path;
};

int lkb_tar_tree(struct lkb_tar_writer *w, struct lkb_tree *t, lkb_tree_skip_fn skip, void *ctx,
                 int64_t mtime_clamp, struct lkb_error *err)
{
    int rc = 0;
    if (!t->root.omit) {
        struct entry root = {.name = "./", .type = '5', .mode = t->root.mode,
                             .uid = t->root.uid, .gid = t->root.gid,
                             .mtime = clamp(t->root.mtime, mtime_clamp)};
        lkb_tree_origin(t, t->root.origin, &root.source, &root.location);
        rc = entry(w, &root, err);
    }
    struct first_name *firsts = NULL;
    size_t n_firsts = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        struct lkb_node *n = &t->nodes[i];
        if (n->removed || (skip && skip(n, ctx)))
            continue;
        struct entry e = {.name = n->path, .mode = n->mode, .uid = n->uid, .gid = n->gid,
                          .mtime = clamp(n->mtime, mtime_clamp)};
        lkb_tree_origin(t, n->origin, &e.source, &e.location);
        if (n->placed != n->origin)
            lkb_tree_origin(t, n->placed, &e.placed_source, &e.placed_location);
        const struct lkb_blob *body = NULL;
        switch (n->type) {
        case LKB_NODE_FILE:
            e.type = '0';
            for (size_t k = 0; k < n_firsts && n->blob->refs > 1; k++)
                if (firsts[k].blob == n->blob) {
                    e.type = '1';
                    e.link = firsts[k].path;
                    break;
                }
            if (e.type == '0') {
                body = n->blob;
                e.size = n->blob->size;
                if (n->blob->refs > 1) {
                    struct first_name *f = realloc(firsts, (n_firsts + 1) * sizeof *f);
                    if (!f) {
                        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                        break;
                    }
                    firsts = f;
                    firsts[n_firsts++] = (struct first_name){n->blob, n->path};
                }
            }
            break;
        case LKB_NODE_DIR:
            e.type = '5';
            break;
        case LKB_NODE_SYMLINK:
            e.type = '2';
            e.link = n->link;
            break;
        case LKB_NODE_CHR:
        case LKB_NODE_BLK:
            e.type = n->type == LKB_NODE_CHR ? '3' : '4';
            e.devmajor = n->rdev_major;
            e.devminor = n->rdev_minor;
            break;
        case LKB_NODE_FIFO:
            e.type = '6';
            break;
        }
        if (rc == 0 && entry(w, &e, err) < 0)
            rc = -1;
        if (rc == 0 && body && body->size && data(w, body, err) < 0)
            rc = -1;
    }
    free(firsts);
    return rc;
}

int lkb_tar_plain_file(struct lkb_tar_writer *w, const char *name, const void *d, size_t size,
                       uint32_t mode, int64_t mtime, struct lkb_error *err)
{
    struct entry e = {.name = name, .type = '0', .mode = mode, .size = size, .mtime = mtime};
    if (entry(w, &e, err) < 0 || put(w, d, size, err) < 0)
        return -1;
    return pad(w, size, err);
}

int lkb_tar_end(struct lkb_tar_writer *w, struct lkb_error *err)
{
    static const unsigned char zero[2 * BLOCK];
    int rc = put(w, zero, sizeof zero, err);
    if (rc == 0)
        rc = flush(w, err);
    lkb_tar_abort(w);
    return rc;
}

void lkb_tar_abort(struct lkb_tar_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = 0;
}
