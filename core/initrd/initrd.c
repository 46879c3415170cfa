/* The initrd as a sequence of segments, each a complete cpio archive
 * (entries, then TRAILER!!!) compressed on its own: the kernel's initramfs
 * unpacker takes concatenated compressed archives, later ones adding to
 * what earlier ones unpacked (../shared/spec/boot-facts.md). That makes
 * the work parallel (segments are compressed on all cores) and cacheable
 * (a segment's compressed bytes are a function of its archive bytes, so a
 * rebuild takes unchanged segments from the cache and compresses only the
 * changed ones). The cache key names each file's data by identity (a range
 * of an unpacked layer: the layer's diff_id, offset and size), so a cached
 * segment's files are never read.
 *
 * Components: the root file system apart from the parts below ("base",
 * written first: it holds every parent directory the others need), the
 * kernel modules (lib/modules) and each container bundle
 * (containers/KIND/NAME), in tree order. A component is cut into archives
 * of CHUNK_MIN..CHUNK_MAX bytes at entry boundaries; where it is cut
 * depends on entry paths, not on sizes alone, so one changed file changes
 * one archive rather than shifting every cut after it. Hard links stay in
 * one archive (the kernel forgets inode numbers at each trailer). The
 * output depends only on the tree and the options, never on the number of
 * threads or on what the cache held. */
#include "initrd/initrd.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buildinfo.h"
#include "initrd/compress.h"
#include "initrd/cpio.h"
#include "initrd/segcache.h"
#include "oci/digest.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/workq.h"

#define CHUNK_MIN ((size_t)1 << 20)
#define CHUNK_MAX ((size_t)4 << 20)
/* A file this large is streamed through the compressor in its own
 * archive instead of being held in memory (cached from the bytes written). */
#define STREAM_MIN ((size_t)32 << 20)
#define MAX_THREADS 8
/* Archives in flight: eight per thread, so while one thread compresses a
 * large file's archive (a 20 MB module takes a core for a quarter of a
 * second) and the writer waits for it, the others find work further on.
 * A queued archive is only its skeleton, and a compressed one its output
 * (a quarter of its size): the archive's bytes are made in a scratch
 * buffer of the worker's only while it compresses them. Uncompressed
 * archives are their own output: three per thread. */
#define SLOTS_PER_THREAD 8
#define SLOTS_PER_THREAD_NONE 3
#define MAX_SLOTS (MAX_THREADS * SLOTS_PER_THREAD)
/* Bump when the archive layout or the key's make-up changes: it is part of
 * every cache key. 3: keys name file data by identity (struct extent). */
#define SEGMENT_FORMAT "3"

static const char *const comp_names[] = {"gzip", "zstd", "lz4", "none"};

int lkb_initrd_compression_parse(const char *s, enum lkb_initrd_compression *out,
                                 struct lkb_error *err)
{
    if (!s) {
        *out = LKB_INITRD_GZIP;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(s, comp_names[i]) == 0) {
            *out = (enum lkb_initrd_compression)i;
            return 0;
        }
    return lkb_error_set(err, LKB_ERR_USAGE,
                         "unknown -initrd-compression \"%s\" (want gzip, zstd, lz4 or none)", s);
}

static bool skip_boot_file(const struct lkb_node *n)
{
    return !strcmp(n->path, "boot/kernel") || !strcmp(n->path, "boot/cmdline") ||
           !strcmp(n->path, "boot/ucode.cpio");
}

/* File data of an archive, not copied into it until the archive has to be
 * compressed: the skeleton holds size & 3 placeholder bytes at `at`, so
 * its padding stays the archive's. */
struct extent {
    size_t at;
    const struct lkb_blob *blob;
};

/* One archive of a segment, compressed (or found in the cache) by a
 * worker thread. */
struct part {
    struct lkb_cpio cpio; /* the skeleton: headers, names, padding, link targets */
    struct extent *ext;
    size_t n_ext, cap_ext;
    uint64_t ext_bytes;    /* the archive's length is cpio.len + ext_bytes */
    unsigned char *whole;  /* the archive, made on a cache miss (scratch while compressed) */
    size_t whole_cap;
    struct scratch *scratch;
    const unsigned char *archive; /* cpio.buf or whole */
    unsigned char *out; /* compressed bytes (NULL for "none": archive) */
    size_t out_len;
    struct lkb_blob *hit; /* the cached segment, mapped; its payload at hit_off */
    size_t hit_off;
    int cached, failed;
    int submitted; /* handed to the work queue, not yet written */
    struct lkb_work work;
    struct lkb_error err;
    enum lkb_initrd_compression comp;
    struct lkb_segcache *cache;
};

static uint64_t part_len(const struct part *p) { return p->cpio.len + p->ext_bytes; }

/* Buffers archives are made in while compressed, one per busy worker:
 * taken and given back under the lock. One grown for a large file's
 * archive is freed rather than kept. */
struct scratch {
    pthread_mutex_t mu;
    struct {
        unsigned char *p;
        size_t cap;
    } v[MAX_THREADS];
    int n;
};

static void scratch_take(struct scratch *s, unsigned char **p, size_t *cap)
{
    pthread_mutex_lock(&s->mu);
    if (s->n > 0) {
        s->n--;
        *p = s->v[s->n].p;
        *cap = s->v[s->n].cap;
    } else {
        *p = NULL;
        *cap = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

static void scratch_give(struct scratch *s, unsigned char **p, size_t *cap)
{
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_THREADS && *cap <= 2 * CHUNK_MAX) {
        s->v[s->n].p = *p;
        s->v[s->n].cap = *cap;
        s->n++;
    } else {
        free(*p);
    }
    pthread_mutex_unlock(&s->mu);
    *p = NULL;
    *cap = 0;
}

/* Files sharing a blob within one component: hard links. */
struct group {
    const struct lkb_blob *blob;
    size_t comp;
    unsigned total, seen;
    uint32_t ino;
    uint64_t first, last; /* the component's bytes before the first and last name */
};

/* All names of a hard link must be in one archive; names further apart
 * than this are written as separate files instead, so an archive never
 * grows past it for the sake of a link. */
#define LINK_SPAN_MAX ((uint64_t)32 << 20)

/* A component: its path prefix and its nodes, linked in tree order. */
struct component {
    const char *prefix;
    size_t len;
    size_t head, tail; /* node index + 1; 0 = none */
};

struct writer {
    int fd;
    enum lkb_initrd_compression comp;
    struct lkb_segcache *cache;
    int64_t clamp;
    int threads;
    /* A ring of archives: taken in order by the writer (tail), compressed
     * by the work queue, written to fd in order (head). */
    struct lkb_workq *q;
    struct scratch scratch;
    struct part parts[MAX_SLOTS];
    unsigned slots, head, tail;
    int open; /* the part at tail - 1 still takes entries */
    struct group *groups;
    size_t n_groups;
    unsigned open_groups; /* groups whose data-carrying last link is not written yet */
    struct lkb_initrd_stats *st;
};

static void hash_num(struct lkb_sha256 *h, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRIu64 " ", v);
    lkb_sha256_update(h, num, (size_t)n);
}

/* What a blob's data is: a range of an unpacked layer is named by the
 * layer's diff_id and the range, without reading it; anything else by its
 * bytes (generated files, files entries, images laid out without the
 * unpacked cache). */
static void hash_blob(struct lkb_sha256 *h, const struct lkb_blob *b)
{
    if (b->file) {
        lkb_sha256_update(h, "R ", 2);
        lkb_sha256_update(h, b->file->id, strlen(b->file->id) + 1);
        hash_num(h, b->off);
        hash_num(h, b->size);
        return;
    }
    lkb_sha256_update(h, "B ", 2);
    hash_num(h, b->size);
    for (size_t off = 0; off < b->size;) {
        size_t n = b->size - off < LKB_BLOB_SPILL_MIN ? b->size - off : LKB_BLOB_SPILL_MIN;
        lkb_sha256_update(h, b->data + off, n);
        lkb_blob_release(b, off, n);
        off += n;
    }
}

/* The segment's cache key: the format, lkb's version, the compression,
 * then the archive as its skeleton (every header byte) and the identity
 * of each file's data at its place. Equal keys mean equal archives. */
static void part_key(const struct part *p, char key[LKB_DIGEST_MAX], struct lkb_error *err)
{
    struct lkb_sha256 h;
    key[0] = 0;
    if (lkb_sha256_init(&h, err) < 0)
        return;
    static const char pre[] = "lkb initrd segment " SEGMENT_FORMAT " " LKB_VERSION " ";
    lkb_sha256_update(&h, pre, sizeof pre - 1);
    lkb_sha256_update(&h, comp_names[p->comp], strlen(comp_names[p->comp]) + 1);
    if (p->comp == LKB_INITRD_GZIP) {
        static const char lvl[] = {'0' + LKB_INITRD_GZIP_LEVEL, 0};
        lkb_sha256_update(&h, lvl, sizeof lvl);
    }
    hash_num(&h, p->cpio.len);
    lkb_sha256_update(&h, p->cpio.buf, p->cpio.len);
    for (size_t i = 0; i < p->n_ext; i++) {
        hash_num(&h, p->ext[i].at);
        hash_blob(&h, p->ext[i].blob);
    }
    lkb_sha256_final(&h, key);
}

/* The archive's bytes: the skeleton with each file's data in place of its
 * placeholder (pages of mapped data dropped once copied). */
static int make_archive(struct part *p, struct lkb_error *err)
{
    if (!p->n_ext) {
        p->archive = p->cpio.buf;
        return 0;
    }
    size_t len = (size_t)part_len(p);
    if (p->whole_cap < len) {
        unsigned char *m = realloc(p->whole, len);
        if (!m)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory (initrd segment of %zu "
                                 "bytes)", len);
        p->whole = m;
        p->whole_cap = len;
    }
    size_t from = 0, to = 0;
    for (size_t i = 0; i < p->n_ext; i++) {
        const struct lkb_blob *b = p->ext[i].blob;
        memcpy(p->whole + to, p->cpio.buf + from, p->ext[i].at - from);
        to += p->ext[i].at - from;
        for (size_t off = 0; off < b->size;) {
            size_t n = b->size - off < LKB_BLOB_SPILL_MIN ? b->size - off : LKB_BLOB_SPILL_MIN;
            memcpy(p->whole + to, b->data + off, n);
            lkb_blob_release(b, off, n);
            off += n;
            to += n;
        }
        from = p->ext[i].at + (b->size & 3);
    }
    memcpy(p->whole + to, p->cpio.buf + from, p->cpio.len - from);
    p->archive = p->whole;
    return 0;
}

static void process_part(void *arg)
{
    struct part *p = arg;
    p->failed = 0;
    p->cached = 0;
    lkb_error_clear(&p->err);
    char key[LKB_DIGEST_MAX] = "";
    if (p->cache && p->comp != LKB_INITRD_NONE) {
        part_key(p, key, &p->err);
        if (key[0] && lkb_segcache_get(p->cache, key + 7, &p->hit, &p->hit_off, &p->out_len)) {
            p->cached = 1;
            return;
        }
    }
    bool borrow = p->comp != LKB_INITRD_NONE && p->n_ext;
    if (borrow)
        scratch_take(p->scratch, &p->whole, &p->whole_cap);
    if (make_archive(p, &p->err) < 0 ||
        lkb_initrd_compress(p->comp, p->archive, (size_t)part_len(p), &p->out, &p->out_len,
                            &p->err) < 0)
        p->failed = 1;
    if (borrow) {
        scratch_give(p->scratch, &p->whole, &p->whole_cap);
        p->archive = NULL;
    }
    if (p->failed)
        return;
    if (key[0]) {
        /* The cache only saves time: a full or read-only cache directory
         * does not fail the build. */
        struct lkb_error ignored;
        if (lkb_segcache_put(p->cache, key + 7, p->out, p->out_len, &ignored) < 0)
            lkb_debug("initrd segment cache: %s", ignored.msg);
    }
}

static struct part *slot(struct writer *w, unsigned seq) { return &w->parts[seq % w->slots]; }

/* Write the oldest part once it is compressed: 1 when written, 0 when
 * not ready yet (only without block), -1 on error. */
static int write_head(struct writer *w, bool block, struct lkb_error *err)
{
    struct part *p = slot(w, w->head);
    if (!block && !lkb_workq_done(w->q, &p->work))
        return 0;
    lkb_workq_wait(w->q, &p->work);
    p->submitted = 0;
    w->head++;
    int rc = 0;
    if (p->failed) {
        *err = p->err;
        rc = -1;
    }
    const void *out = p->hit ? p->hit->data + p->hit_off : p->out ? p->out : p->archive;
    if (rc == 0)
        rc = lkb_fs_write_all(w->fd, out, p->out_len, "the initrd", err);
    w->st->archives++;
    w->st->cached += (size_t)p->cached;
    w->st->compressed += (size_t)!p->cached;
    w->st->cpio_bytes += part_len(p);
    w->st->bytes += p->out_len;
    free(p->out);
    p->out = NULL;
    lkb_blob_unref(p->hit);
    p->hit = NULL;
    return rc < 0 ? -1 : 1;
}

static struct part *current(struct writer *w, struct lkb_error *err)
{
    if (w->open)
        return slot(w, w->tail - 1);
    if (w->tail - w->head == w->slots && write_head(w, true, err) < 0)
        return NULL;
    struct part *p = slot(w, w->tail++);
    lkb_cpio_reset(&p->cpio);
    p->n_ext = 0;
    p->ext_bytes = 0;
    w->open = 1;
    return p;
}

/* A file's data into the archive, by reference (see struct extent). */
static int add_data(struct part *p, const struct lkb_blob *b, struct lkb_error *err)
{
    if (p->n_ext == p->cap_ext) {
        size_t cap = p->cap_ext ? p->cap_ext * 2 : 256;
        struct extent *e = realloc(p->ext, cap * sizeof *e);
        if (!e)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        p->ext = e;
        p->cap_ext = cap;
    }
    p->ext[p->n_ext++] = (struct extent){p->cpio.len, b};
    p->ext_bytes += b->size - (b->size & 3);
    return lkb_cpio_data(&p->cpio, "\0\0\0", b->size & 3, err);
}

/* Close the open archive and queue it; write what is ready meanwhile. */
static int end_part(struct writer *w, struct lkb_error *err)
{
    if (!w->open)
        return 0;
    w->open = 0;
    struct part *p = slot(w, w->tail - 1);
    if (lkb_cpio_trailer(&p->cpio, err) < 0)
        return -1;
    p->comp = w->comp;
    p->cache = w->cache;
    p->scratch = &w->scratch;
    p->work = (struct lkb_work){.fn = process_part, .arg = p, .cost = part_len(p)};
    p->submitted = 1;
    lkb_workq_submit(w->q, &p->work);
    int r = 1;
    while (r == 1 && w->head != w->tail)
        r = write_head(w, false, err);
    return r < 0 ? -1 : 0;
}

/* Every archive taken so far, written. */
static int flush(struct writer *w, struct lkb_error *err)
{
    if (end_part(w, err) < 0)
        return -1;
    while (w->head != w->tail)
        if (write_head(w, true, err) < 0)
            return -1;
    return 0;
}

static uint32_t node_mode(const struct lkb_node *n)
{
    static const uint32_t types[] = {
        [LKB_NODE_FILE] = S_IFREG, [LKB_NODE_DIR] = S_IFDIR, [LKB_NODE_SYMLINK] = S_IFLNK,
        [LKB_NODE_CHR] = S_IFCHR,  [LKB_NODE_BLK] = S_IFBLK, [LKB_NODE_FIFO] = S_IFIFO,
    };
    return types[n->type] | (n->mode & 07777);
}

static int64_t clamp(int64_t mtime, int64_t c) { return c >= 0 && mtime > c ? c : mtime; }

/* A file of STREAM_MIN bytes or more: an archive of its own, streamed. */
static int stream_file(struct writer *w, const struct lkb_node *n, struct lkb_error *err)
{
    if (end_part(w, err) < 0 || flush(w, err) < 0)
        return -1;
    /* The archive as a skeleton, for its key and its bytes around the data. */
    struct part p = {.comp = w->comp};
    lkb_cpio_reset(&p.cpio);
    struct lkb_cpio_hdr h = {.ino = 1, .mode = node_mode(n), .uid = n->uid, .gid = n->gid,
                             .nlink = 1, .mtime = clamp(n->mtime, w->clamp),
                             .size = n->blob->size};
    int rc = lkb_cpio_header(&p.cpio, n->path, &h, err);
    if (rc == 0)
        rc = add_data(&p, n->blob, err);
    if (rc == 0)
        rc = lkb_cpio_pad(&p.cpio, err);
    if (rc == 0)
        rc = lkb_cpio_trailer(&p.cpio, err);
    char key[LKB_DIGEST_MAX] = "";
    struct lkb_error ignored;
    if (rc == 0 && w->cache && w->comp != LKB_INITRD_NONE) {
        part_key(&p, key, &ignored);
        if (key[0] && lkb_segcache_get(w->cache, key + 7, &p.hit, &p.hit_off, &p.out_len)) {
            rc = lkb_fs_write_all(w->fd, p.hit->data + p.hit_off, p.out_len, "the initrd", err);
            w->st->cached++;
            w->st->bytes += p.out_len;
        }
    }
    off_t start = lseek(w->fd, 0, SEEK_CUR);
    struct lkb_initrd_stream *s = NULL;
    if (rc == 0 && !p.hit && !(s = lkb_initrd_stream_open(w->fd, w->comp, err)))
        rc = -1;
    const size_t at = p.n_ext ? p.ext[0].at : 0, rest = at + (n->blob->size & 3);
    if (s && rc == 0)
        rc = lkb_initrd_stream_write(s, p.cpio.buf, at, err);
    for (size_t off = 0; s && rc == 0 && off < n->blob->size;) {
        size_t k = n->blob->size - off < LKB_BLOB_SPILL_MIN ? n->blob->size - off
                                                            : LKB_BLOB_SPILL_MIN;
        rc = lkb_initrd_stream_write(s, n->blob->data + off, k, err);
        lkb_blob_release(n->blob, off, k);
        off += k;
    }
    if (s && rc == 0)
        rc = lkb_initrd_stream_write(s, p.cpio.buf + rest, p.cpio.len - rest, err);
    if (s) {
        if (lkb_initrd_stream_close(s, rc == 0 ? err : &ignored) < 0)
            rc = -1;
        w->st->compressed++;
        off_t end = lseek(w->fd, 0, SEEK_CUR);
        w->st->bytes += (uint64_t)(end - start);
        /* Kept like any archive, from the bytes just written. */
        if (rc == 0 && key[0] && start >= 0 && end > start &&
            lkb_segcache_put_fd(w->cache, key + 7, w->fd, (uint64_t)start,
                                (size_t)(end - start), &ignored) < 0)
            lkb_debug("initrd segment cache: %s", ignored.msg);
    }
    w->st->archives++;
    w->st->cpio_bytes += part_len(&p);
    lkb_blob_unref(p.hit);
    free(p.ext);
    lkb_cpio_free(&p.cpio);
    return rc;
}

static struct group *group_of(struct writer *w, const struct lkb_blob *b, size_t comp)
{
    /* Groups are few (only shared blobs): a linear scan is fine. */
    for (size_t i = 0; i < w->n_groups; i++)
        if (w->groups[i].blob == b && w->groups[i].comp == comp)
            return &w->groups[i];
    return NULL;
}

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int write_node(struct writer *w, const struct lkb_node *n, size_t comp,
                      struct lkb_error *err)
{
    struct group *g = n->type == LKB_NODE_FILE && n->blob->refs > 1 ? group_of(w, n->blob, comp)
                                                                   : NULL;
    if (g && g->total < 2)
        g = NULL;
    if (n->type == LKB_NODE_FILE && !g && !w->open_groups && n->blob->size >= STREAM_MIN)
        return stream_file(w, n, err);
    struct part *p = current(w, err);
    if (!p)
        return -1;
    struct lkb_cpio *c = &p->cpio;
    struct lkb_cpio_hdr h = {.mode = node_mode(n), .uid = n->uid, .gid = n->gid,
                             .nlink = n->type == LKB_NODE_DIR ? 2 : 1,
                             .mtime = clamp(n->mtime, w->clamp)};
    const void *data = NULL;
    size_t size = 0;
    if (n->type == LKB_NODE_FILE) {
        size = n->blob->size;
    } else if (n->type == LKB_NODE_SYMLINK) {
        data = n->link;
        size = strlen(n->link);
    } else if (n->type == LKB_NODE_CHR || n->type == LKB_NODE_BLK) {
        h.rdev_major = n->rdev_major;
        h.rdev_minor = n->rdev_minor;
    }
    if (g) {
        /* newc carries the data once, on the last link. */
        if (g->seen++ == 0) {
            g->ino = c->next_ino++;
            w->open_groups++;
        }
        h.ino = g->ino;
        h.nlink = g->total;
        if (g->seen < g->total)
            size = 0;
        else
            w->open_groups--;
    } else {
        h.ino = c->next_ino++;
    }
    h.size = size;
    if (lkb_cpio_header(c, n->path, &h, err) < 0)
        return -1;
    if (size && (data ? lkb_cpio_data(c, data, size, err) : add_data(p, n->blob, err)) < 0)
        return -1;
    if (lkb_cpio_pad(c, err) < 0)
        return -1;
    if (!w->open_groups && part_len(p) >= CHUNK_MIN &&
        ((path_hash(n->path) & 7) == 0 || part_len(p) >= CHUNK_MAX))
        return end_part(w, err);
    return 0;
}

static int write_root(struct writer *w, const struct lkb_tree *t, struct lkb_error *err)
{
    struct part *p = current(w, err);
    if (!p)
        return -1;
    struct lkb_cpio *c = &p->cpio;
    struct lkb_cpio_hdr h = {.ino = c->next_ino++, .mode = S_IFDIR | (t->root.mode & 07777),
                             .uid = t->root.uid, .gid = t->root.gid, .nlink = 2,
                             .mtime = clamp(t->root.mtime, w->clamp)};
    return lkb_cpio_header(c, ".", &h, err);
}

/* The length of the component prefix path falls under (0: base). */
static size_t component_prefix(const char *path)
{
    if (!strncmp(path, "lib/modules", 11) && (path[11] == 0 || path[11] == '/'))
        return 11;
    if (strncmp(path, "containers/", 11) != 0)
        return 0;
    const char *kind_end = strchr(path + 11, '/');
    if (!kind_end)
        return 0;
    const char *name_end = strchr(kind_end + 1, '/');
    return name_end ? (size_t)(name_end - path) : strlen(path);
}

/* Split the live nodes into components (next[] links them) and count the
 * hard-link groups of each. */
static int plan(struct writer *w, const struct lkb_tree *t, struct component **out, size_t *n_out,
                size_t *next, struct lkb_error *err)
{
    struct component *cs = calloc(1, sizeof *cs);
    uint64_t *bytes = calloc(1, sizeof *bytes); /* each component's data so far */
    size_t n = 1, last = 0;
    int oom = !cs || !bytes;
    for (size_t i = 0; i < t->n && !oom; i++) {
        const struct lkb_node *nd = &t->nodes[i];
        if (nd->removed || skip_boot_file(nd))
            continue;
        size_t len = component_prefix(nd->path), k = 0;
        if (len) {
            if (cs[last].len == len && !strncmp(cs[last].prefix, nd->path, len))
                k = last;
            else
                for (k = 1; k < n; k++)
                    if (cs[k].len == len && !strncmp(cs[k].prefix, nd->path, len))
                        break;
            if (k == n) {
                struct component *m = realloc(cs, (n + 1) * sizeof *m);
                cs = m ? m : cs;
                uint64_t *mb = m ? realloc(bytes, (n + 1) * sizeof *mb) : NULL;
                bytes = mb ? mb : bytes;
                if ((oom = !mb))
                    break;
                cs[n] = (struct component){nd->path, len, 0, 0};
                bytes[n++] = 0;
            }
            last = k;
        }
        next[i] = 0;
        if (cs[k].tail)
            next[cs[k].tail - 1] = i + 1;
        else
            cs[k].head = i + 1;
        cs[k].tail = i + 1;
        if (nd->type == LKB_NODE_FILE && nd->blob->refs > 1) {
            struct group *g = group_of(w, nd->blob, k);
            if (!g) {
                struct group *m = realloc(w->groups, (w->n_groups + 1) * sizeof *m);
                if ((oom = !m))
                    break;
                w->groups = m;
                g = &w->groups[w->n_groups++];
                *g = (struct group){nd->blob, k, 0, 0, 0, bytes[k], 0};
            }
            g->total++;
            g->last = bytes[k];
        }
        bytes[k] += 512 + (nd->type == LKB_NODE_FILE ? nd->blob->size : 0);
    }
    free(bytes);
    if (oom) {
        free(cs);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    for (size_t j = 0; j < w->n_groups; j++)
        if (w->groups[j].last - w->groups[j].first > LINK_SPAN_MAX)
            w->groups[j].total = 0; /* separate files, see LINK_SPAN_MAX */
    *out = cs;
    *n_out = n;
    return 0;
}

static int write_components(struct writer *w, const struct lkb_tree *t, struct lkb_error *err)
{
    size_t *next = malloc((t->n ? t->n : 1) * sizeof *next);
    struct component *cs = NULL;
    size_t n = 0;
    if (!next)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = plan(w, t, &cs, &n, next, err);
    if (rc == 0 && !t->root.omit)
        rc = write_root(w, t, err);
    for (size_t k = 0; k < n && rc == 0; k++) {
        for (size_t i = cs[k].head; i && rc == 0; i = next[i - 1])
            rc = write_node(w, &t->nodes[i - 1], k, err);
        if (rc == 0)
            rc = end_part(w, err);
    }
    /* An empty tree still makes a valid (empty) archive. */
    if (rc == 0 && w->st->archives == 0 && w->tail == 0) {
        rc = current(w, err) ? end_part(w, err) : -1;
    }
    if (rc == 0)
        rc = flush(w, err);
    w->st->components = n;
    free(cs);
    free(next);
    return rc;
}

int lkb_initrd_write_opts(struct lkb_tree *t, const char *path, const struct lkb_initrd_opts *o,
                          struct lkb_initrd_stats *stats, struct lkb_error *err)
{
    struct lkb_initrd_stats st_local = {0};
    struct lkb_initrd_stats *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    double t0 = lkb_now_s();
    struct writer w = {.comp = o->comp, .clamp = o->mtime_clamp, .st = st};
    pthread_mutex_init(&w.scratch.mu, NULL);
    w.threads = lkb_workq_cpus(MAX_THREADS);
    w.slots = (unsigned)w.threads *
              (o->comp == LKB_INITRD_NONE ? SLOTS_PER_THREAD_NONE : SLOTS_PER_THREAD);
    if (!(w.q = lkb_workq_new(w.threads)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    struct lkb_error cache_err;
    if (o->segment_cache && !(w.cache = lkb_segcache_open(o->segment_cache, &cache_err)))
        lkb_debug("initrd segment cache not used: %s", cache_err.msg); /* only a speed-up */
    struct lkb_atomic_file f;
    if (lkb_atomic_file_open(&f, path, 0644, err) < 0) {
        lkb_segcache_close(w.cache);
        lkb_workq_free(w.q);
        return -1;
    }
    w.fd = f.fd;
    /* The kernel takes an uncompressed microcode cpio followed by the
     * compressed root archives. */
    int rc = o->ucode_len ? lkb_fs_write_all(f.fd, o->ucode, o->ucode_len, path, err) : 0;
    if (rc == 0)
        rc = write_components(&w, t, err);
    /* After an error, parts may still be with the workers. */
    for (unsigned i = 0; i < w.slots; i++)
        if (w.parts[i].submitted)
            lkb_workq_wait(w.q, &w.parts[i].work);
    lkb_workq_free(w.q);
    for (int i = 0; i < MAX_SLOTS; i++) {
        free(w.parts[i].out);
        lkb_blob_unref(w.parts[i].hit);
        free(w.parts[i].ext);
        free(w.parts[i].whole);
        lkb_cpio_free(&w.parts[i].cpio);
    }
    for (int i = 0; i < w.scratch.n; i++)
        free(w.scratch.v[i].p);
    pthread_mutex_destroy(&w.scratch.mu);
    free(w.groups);
    if (rc == 0)
        rc = lkb_atomic_file_commit(&f, err);
    else
        lkb_atomic_file_abort(&f);
    if (rc == 0 && w.cache) {
        struct lkb_error ignored;
        if (lkb_segcache_trim(w.cache, 0, &ignored) < 0)
            lkb_debug("initrd segment cache: %s", ignored.msg);
    }
    lkb_segcache_close(w.cache);
    if (rc < 0)
        return lkb_error_prefix(err, "initrd %s: ", path);
    st->seconds = lkb_now_s() - t0;
    lkb_debug("initrd: %zu components, %zu archives (%zu from the segment cache, %zu compressed), "
              "%.1f MB cpio -> %.1f MB %s in %.2f s",
              st->components, st->archives, st->cached, st->compressed,
              (double)st->cpio_bytes / 1e6,
              (double)st->bytes / 1e6, comp_names[o->comp], st->seconds);
    return 0;
}

int lkb_initrd_write(struct lkb_tree *t, const char *path, enum lkb_initrd_compression comp,
                     const void *ucode, size_t ucode_len, int64_t mtime_clamp,
                     struct lkb_error *err)
{
    struct lkb_initrd_opts o = {.comp = comp, .ucode = ucode, .ucode_len = ucode_len,
                                .mtime_clamp = mtime_clamp};
    return lkb_initrd_write_opts(t, path, &o, NULL, err);
}
