#include "pipeline/inputtar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/yamltree.h"
#include "oci/oci.h"
#include "util/log.h"
#include "util/str.h"

/* One entry of the input tar: its header, where its data is, and its
 * LINUXKIT.source/location (an index into the origin pairs, 0 = none). */
struct item {
    char *name, *link;
    char type;
    uint32_t mode, uid, gid, devmajor, devminor;
    int64_t mtime;
    uint64_t size;
    off_t data;
    uint32_t origin, placed;
};

/* A section LinuxKit's records name, and whether it is copied. */
struct origin {
    char *source, *location;
    bool reuse;
};

struct lkb_input_tar {
    int fd;
    char *path;
    struct item *items;
    size_t n;
    struct origin *origins;
    uint32_t n_origins;
};

/* ---- reading the tar: libarchive drops pax keys it does not know, so
 * the LINUXKIT.* records need a reader of our own (ustar + pax). ---- */

#define BLOCK 512

static uint64_t number(const unsigned char *f, size_t len)
{
    if (f[0] & 0x80) { /* base-256 */
        uint64_t v = f[0] & 0x3f;
        for (size_t i = 1; i < len; i++)
            v = v << 8 | f[i];
        return v;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && f[i] == ' ')
        i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++)
        v = v << 3 | (uint64_t)(f[i] - '0');
    return v;
}

static char *field(const unsigned char *f, size_t len)
{
    return strndup((const char *)f, strnlen((const char *)f, len));
}

struct pax {
    char *path, *link, *source, *location, *placed_source, *placed_location;
    bool has_size, has_uid, has_gid, has_mtime;
    uint64_t size, uid, gid;
    int64_t mtime;
};

static void pax_free(struct pax *p)
{
    free(p->path), free(p->link), free(p->source), free(p->location);
    free(p->placed_source), free(p->placed_location);
    memset(p, 0, sizeof *p);
}

/* "<len> <key>=<value>\n" records into p. */
static int pax_parse(char *buf, size_t len, struct pax *p)
{
    size_t off = 0;
    while (off < len) {
        char *sp = memchr(buf + off, ' ', len - off);
        if (!sp)
            return -1;
        size_t rl = strtoul(buf + off, NULL, 10);
        if (rl == 0 || rl > len - off || buf[off + rl - 1] != '\n')
            return -1;
        char *key = sp + 1, *end = buf + off + rl - 1;
        char *eq = memchr(key, '=', (size_t)(end - key));
        if (!eq)
            return -1;
        *eq = '\0';
        char *val = strndup(eq + 1, (size_t)(end - eq - 1));
        if (!val)
            return -1;
        char **slot = !strcmp(key, "path")                ? &p->path
                      : !strcmp(key, "linkpath")          ? &p->link
                      : !strcmp(key, "LINUXKIT.source")   ? &p->source
                      : !strcmp(key, "LINUXKIT.location") ? &p->location
                      : !strcmp(key, "LKB.placed.source") ? &p->placed_source
                      : !strcmp(key, "LKB.placed.location") ? &p->placed_location
                                                            : NULL;
        if (slot) {
            free(*slot);
            *slot = val;
        } else {
            if (!strcmp(key, "size"))
                p->has_size = true, p->size = strtoull(val, NULL, 10);
            else if (!strcmp(key, "uid"))
                p->has_uid = true, p->uid = strtoull(val, NULL, 10);
            else if (!strcmp(key, "gid"))
                p->has_gid = true, p->gid = strtoull(val, NULL, 10);
            else if (!strcmp(key, "mtime"))
                p->has_mtime = true, p->mtime = strtoll(val, NULL, 10);
            free(val);
        }
        off += rl;
    }
    return 0;
}

static int read_at(int fd, void *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static uint32_t origin_of(struct lkb_input_tar *it, const char *source, const char *location)
{
    if (!source || !location)
        return 0;
    for (uint32_t i = 0; i < it->n_origins; i++)
        if (!strcmp(it->origins[i].source, source) && !strcmp(it->origins[i].location, location))
            return i + 1;
    struct origin *o = realloc(it->origins, (it->n_origins + 1) * sizeof *o);
    if (!o)
        return UINT32_MAX;
    it->origins = o;
    o[it->n_origins] = (struct origin){strdup(source), strdup(location), false};
    if (!o[it->n_origins].source || !o[it->n_origins].location) {
        free(o[it->n_origins].source);
        free(o[it->n_origins].location);
        return UINT32_MAX;
    }
    return ++it->n_origins;
}

static int bad_tar(const struct lkb_input_tar *it, off_t at, struct lkb_error *err)
{
    return lkb_error_set(err, LKB_ERR_BUILD, "-input-tar %s: not a tar LinuxKit or lkb wrote "
                         "(bad header at byte %lld)", it->path, (long long)at);
}

static int index_tar(struct lkb_input_tar *it, struct lkb_error *err)
{
    struct stat st;
    if (fstat(it->fd, &st) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "-input-tar %s", it->path);
    off_t off = 0;
    struct pax p = {0};
    char *longname = NULL, *longlink = NULL;
    int rc = 0;
    while (rc == 0) {
        unsigned char h[BLOCK];
        if (off + BLOCK > st.st_size || read_at(it->fd, h, BLOCK, off) < 0) {
            rc = bad_tar(it, off, err); /* no end-of-archive block */
            break;
        }
        static const unsigned char zero[BLOCK];
        if (!memcmp(h, zero, BLOCK))
            break;
        unsigned sum = 0;
        for (size_t i = 0; i < BLOCK; i++)
            sum += i >= 148 && i < 156 ? ' ' : h[i];
        if (memcmp(h + 257, "ustar", 5) != 0 || number(h + 148, 8) != sum) {
            rc = bad_tar(it, off, err);
            break;
        }
        char type = (char)h[156];
        uint64_t size = number(h + 124, 12);
        if (p.has_size)
            size = p.size;
        off_t data = off + BLOCK;
        if (size > (uint64_t)(st.st_size - data)) {
            rc = bad_tar(it, off, err);
            break;
        }
        off = data + (off_t)((size + BLOCK - 1) / BLOCK * BLOCK);
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            char *buf = size < ((uint64_t)1 << 24) ? malloc(size + 1) : NULL;
            if (!buf || read_at(it->fd, buf, size, data) < 0) {
                free(buf);
                rc = bad_tar(it, data, err);
                break;
            }
            buf[size] = '\0';
            if (type == 'x' && pax_parse(buf, size, &p) < 0)
                rc = bad_tar(it, data, err);
            if (type == 'L')
                free(longname), longname = strdup(buf);
            if (type == 'K')
                free(longlink), longlink = strdup(buf);
            free(buf);
            continue;
        }
        struct item *ni = realloc(it->items, (it->n + 1) * sizeof *ni);
        if (!ni) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        it->items = ni;
        struct item *e = &it->items[it->n];
        char *prefix = field(h + 345, 155), *name = field(h, 100);
        *e = (struct item){
            .type = type ? type : '0',
            .mode = (uint32_t)number(h + 100, 8) & 07777,
            .uid = (uint32_t)(p.has_uid ? p.uid : number(h + 108, 8)),
            .gid = (uint32_t)(p.has_gid ? p.gid : number(h + 116, 8)),
            .mtime = p.has_mtime ? p.mtime : (int64_t)number(h + 136, 12),
            .devmajor = (uint32_t)number(h + 329, 8),
            .devminor = (uint32_t)number(h + 337, 8),
            .size = size,
            .data = data,
            .origin = origin_of(it, p.source, p.location),
        };
        e->placed = p.placed_source ? origin_of(it, p.placed_source, p.placed_location)
                                    : e->origin;
        if (p.path || longname)
            e->name = strdup(p.path ? p.path : longname);
        else if (prefix && name && *prefix)
            e->name = lkb_strf("%s/%s", prefix, name);
        else if (name)
            e->name = strdup(name);
        if (p.link || longlink)
            e->link = strdup(p.link ? p.link : longlink);
        else if (type == '1' || type == '2')
            e->link = field(h + 157, 100);
        free(prefix), free(name);
        it->n++;
        if (!e->name || e->origin == UINT32_MAX || e->placed == UINT32_MAX || ((type == '1' || type == '2') && !e->link))
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        pax_free(&p);
        free(longname), free(longlink);
        longname = longlink = NULL;
    }
    pax_free(&p);
    free(longname), free(longlink);
    return rc;
}

/* ---- what is unchanged ---- */

/* Two image entries (or kernel sections) equal once their image names are
 * canonical, LinuxKit's Image.Equal. */
static bool same_entry(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return false;
    json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
    bool eq = false;
    if (ca && cb) {
        const char *ia = json_string_value(json_object_get(ca, "image"));
        const char *ib = json_string_value(json_object_get(cb, "image"));
        char *x = NULL, *y = NULL;
        struct lkb_error e;
        if (ia && *ia && lkb_oci_ref_canonical(ia, &x, &e) == 0)
            json_object_set_new(ca, "image", json_string(x));
        if (ib && *ib && lkb_oci_ref_canonical(ib, &y, &e) == 0)
            json_object_set_new(cb, "image", json_string(y));
        free(x), free(y);
        eq = json_equal(ca, cb);
    }
    json_decref(ca);
    json_decref(cb);
    return eq;
}

static char *canonical(const char *image)
{
    char *c = NULL;
    struct lkb_error e;
    return image && *image && lkb_oci_ref_canonical(image, &c, &e) == 0 ? c : NULL;
}

/* Mark section[idx] reused when it is unchanged and the tar holds it. */
static void mark(struct lkb_input_tar *it, const char *section, size_t idx, const char *image)
{
    char *loc = !strcmp(section, "kernel") ? strdup("kernel")
                                           : lkb_strf("%s[%zu]", section, idx);
    char *src = canonical(image);
    for (uint32_t i = 0; loc && src && i < it->n_origins; i++)
        if (!strcmp(it->origins[i].location, loc) && !strcmp(it->origins[i].source, src))
            it->origins[i].reuse = true;
    free(loc);
    free(src);
}

static const char *const container_sections[] = {"onboot", "onshutdown", "services"};

static const json_t *section_list(const struct lkb_config *c, int s)
{
    return s == 0 ? c->onboot : s == 1 ? c->onshutdown : c->services;
}

static void decide(struct lkb_input_tar *it, const struct lkb_config *old,
                   const struct lkb_config *cfg)
{
    if (same_entry(old->kernel, cfg->kernel))
        mark(it, "kernel", 0, json_string_value(json_object_get(cfg->kernel, "image")));
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v)
    {
        char *a = canonical(json_string_value(v)),
             *b = canonical(json_string_value(json_array_get(old->init, i)));
        if (a && b && !strcmp(a, b))
            mark(it, "init", i, json_string_value(v));
        free(a), free(b);
    }
    /* Containers: their runtime configuration also depends on the volumes
     * and on the order of all container names (a uid or gid given as a
     * name maps to 100, 101, ... in that order). Identical images share
     * one extraction, so an image is copied for all of its containers or
     * for none. */
    json_t *names_old = json_array(), *names_new = json_array();
    for (int s = 0; s < 3; s++) {
        json_array_foreach(section_list(old, s), i, v)
            json_array_append(names_old, json_object_get(v, "name"));
        json_array_foreach(section_list(cfg, s), i, v)
            json_array_append(names_new, json_object_get(v, "name"));
    }
    bool volumes_same = json_equal(old->volumes, cfg->volumes) && names_old && names_new &&
                        json_equal(names_old, names_new);
    json_decref(names_old);
    json_decref(names_new);
    json_t *rebuilt = json_object();
    for (int s = 0; s < 3 && rebuilt; s++)
        json_array_foreach(section_list(cfg, s), i, v)
        {
            const char *img = json_string_value(json_object_get(v, "image"));
            if (!volumes_same || !same_entry(json_array_get(section_list(old, s), i), v)) {
                char *c = canonical(img);
                if (c)
                    json_object_set_new(rebuilt, c, json_true());
                free(c);
            }
        }
    for (int s = 0; s < 3 && rebuilt; s++)
        json_array_foreach(section_list(cfg, s), i, v)
        {
            const char *img = json_string_value(json_object_get(v, "image"));
            char *c = canonical(img);
            if (c && !json_object_get(rebuilt, c))
                mark(it, container_sections[s], i, img);
            free(c);
        }
    json_decref(rebuilt);
}

/* The old `files` section is never reused (files are always written
 * again), so its lines are cut from a block-style document before it is
 * loaded: its entries need no validation (LinuxKit writes `optional:
 * false` on every file, which the loader refuses without `source`).
 * Returns the new length. */
static size_t without_files(const char *name, char *buf, size_t len)
{
    struct lkb_ynode *root = NULL;
    struct lkb_error e;
    if (lkb_yaml_parse(name, buf, len, &root, &e) < 0)
        return len; /* the loader reports it */
    int from = 0, to = 0;
    for (size_t i = 0; root->kind == LKB_Y_MAP && i < root->n; i++)
        if (root->keys[i]->text && !strcmp(root->keys[i]->text, "files"))
            from = root->keys[i]->line;
    for (size_t i = 0; from && root->kind == LKB_Y_MAP && i < root->n; i++)
        if (root->keys[i]->line > from && (!to || root->keys[i]->line < to))
            to = root->keys[i]->line;
    lkb_ynode_free(root);
    if (!from)
        return len;
    /* Byte offsets of lines from and to (to = 0: the end). */
    size_t a = 0, b = len;
    int line = 1;
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') {
            line++;
            if (line == from)
                a = i + 1;
            if (line == to)
                b = i + 1;
        }
    if (from == 1)
        a = 0;
    memmove(buf + a, buf + b, len - b);
    return len - (b - a);
}

/* The configuration the tar was built from: the last `files` entry with
 * `metadata` names the file (LinuxKit's rule). 1 when found. */
static int old_config(struct lkb_input_tar *it, const struct lkb_config *cfg,
                      struct lkb_config **old, struct lkb_error *err)
{
    const char *meta = NULL;
    size_t i;
    json_t *f;
    json_array_foreach(cfg->files, i, f) if (json_object_get(f, "metadata")) meta =
        json_string_value(json_object_get(f, "path"));
    while (meta && *meta == '/')
        meta++;
    const struct item *e = NULL;
    for (size_t k = 0; meta && !e && k < it->n; k++) {
        const char *n = it->items[k].name;
        while (*n == '/')
            n++;
        if (!strcmp(n, meta) && it->items[k].type == '0')
            e = &it->items[k];
    }
    if (!e)
        return 0;
    char *buf = e->size < ((uint64_t)1 << 24) ? malloc(e->size + 1) : NULL;
    if (!buf || read_at(it->fd, buf, e->size, e->data) < 0) {
        free(buf);
        return lkb_error_set(err, LKB_ERR_IO, "-input-tar %s: cannot read %s", it->path, meta);
    }
    buf[e->size] = '\0';
    size_t len = without_files(meta, buf, e->size);
    *old = lkb_config_new();
    int rc = *old ? lkb_config_load_buffer(*old, meta, buf, len, err)
                  : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(buf);
    if (rc < 0)
        return lkb_error_prefix(err, "invalid config in existing tar file: ");
    return 1;
}

int lkb_input_tar_open(const char *path, const struct lkb_config *cfg,
                       struct lkb_input_tar **out, struct lkb_error *err)
{
    *out = NULL;
    struct lkb_input_tar *it = calloc(1, sizeof *it);
    if (!it || !(it->path = strdup(path))) {
        free(it);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    it->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct lkb_config *old = NULL;
    int rc = it->fd < 0 ? lkb_error_errno(err, LKB_ERR_IO, errno, "-input-tar %s", path)
                        : index_tar(it, err);
    if (rc == 0)
        rc = old_config(it, cfg, &old, err);
    if (rc == 1)
        decide(it, old, cfg);
    else if (rc == 0)
        lkb_info("Input tar %s: no metadata file of this configuration in it; building "
                 "everything", path);
    lkb_config_free(old);
    if (rc <= 0) {
        lkb_input_tar_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

void lkb_input_tar_free(struct lkb_input_tar *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++)
        free(it->items[i].name), free(it->items[i].link);
    for (uint32_t i = 0; i < it->n_origins; i++)
        free(it->origins[i].source), free(it->origins[i].location);
    free(it->items);
    free(it->origins);
    if (it->fd >= 0)
        close(it->fd);
    free(it->path);
    free(it);
}

static const struct origin *reused(const struct lkb_input_tar *it, const char *section,
                                   size_t idx)
{
    if (!it)
        return NULL;
    char *loc = !strcmp(section, "kernel") ? strdup("kernel")
                                           : lkb_strf("%s[%zu]", section, idx);
    const struct origin *o = NULL;
    for (uint32_t i = 0; loc && !o && i < it->n_origins; i++)
        if (it->origins[i].reuse && !strcmp(it->origins[i].location, loc))
            o = &it->origins[i];
    free(loc);
    return o;
}

bool lkb_input_tar_reuses(const struct lkb_input_tar *it, const char *section, size_t idx)
{
    return reused(it, section, idx) != NULL;
}

void lkb_input_tar_reuse_none(struct lkb_input_tar *it)
{
    for (uint32_t i = 0; it && i < it->n_origins; i++)
        it->origins[i].reuse = false;
}

/* ---- copying ---- */

struct data_reader {
    int fd;
    off_t off;
};

static long read_data(void *ctx, void *buf, size_t len, struct lkb_error *err)
{
    struct data_reader *r = ctx;
    ssize_t n;
    while ((n = pread(r->fd, buf, len, r->off)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "reading the input tar");
    r->off += n;
    return (long)n;
}

static int copy_item(struct lkb_input_tar *it, struct lkb_tree *root, const struct item *e,
                     struct lkb_error *err)
{
    char *path = NULL;
    const char *n = e->name;
    while (*n == '/')
        n++;
    if (!strcmp(n, ".") || !strcmp(n, "./") || !*n) { /* the root's own entry */
        root->root = (struct lkb_root_entry){.mode = e->mode, .uid = e->uid, .gid = e->gid,
                                             .mtime = e->mtime, .from_image = true,
                                             .omit = root->root.omit, .origin = root->origin};
        return 0;
    }
    if (lkb_tree_clean_path(n, &path, err) < 0)
        return lkb_error_prefix(err, "-input-tar %s: ", it->path);
    struct lkb_node node = {.path = path, .mode = e->mode, .uid = e->uid, .gid = e->gid,
                            .mtime = e->mtime, .rdev_major = e->devmajor,
                            .rdev_minor = e->devminor};
    int rc = 0;
    switch (e->type) {
    case '0':
    case '7': {
        struct data_reader r = {it->fd, e->data};
        node.type = LKB_NODE_FILE;
        rc = lkb_blob_read((size_t)e->size, read_data, &r, &node.blob, err);
        break;
    }
    case '1': { /* a hard link shares its target's data */
        char *target = NULL;
        rc = lkb_tree_clean_path(e->link, &target, err);
        struct lkb_node *t = rc == 0 ? lkb_tree_get(root, target) : NULL;
        if (rc == 0 && (!t || t->type != LKB_NODE_FILE))
            rc = lkb_error_set(err, LKB_ERR_BUILD, "-input-tar %s: hard link %s to missing %s",
                               it->path, n, e->link);
        if (rc == 0) {
            node.type = LKB_NODE_FILE;
            node.blob = lkb_blob_ref(t->blob);
        }
        free(target);
        break;
    }
    case '2':
        node.type = LKB_NODE_SYMLINK;
        if (!(node.link = strdup(e->link)))
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        break;
    case '3':
        node.type = LKB_NODE_CHR;
        break;
    case '4':
        node.type = LKB_NODE_BLK;
        break;
    case '5':
        node.type = LKB_NODE_DIR;
        break;
    case '6':
        node.type = LKB_NODE_FIFO;
        break;
    default:
        rc = lkb_error_set(err, LKB_ERR_BUILD, "-input-tar %s: %s has tar type '%c'", it->path,
                           n, e->type);
    }
    if (rc == 0)
        rc = lkb_tree_put(root, &node, err);
    if (rc < 0) {
        free(node.path);
        free(node.link);
        lkb_blob_unref(node.blob);
    }
    return rc;
}

int lkb_input_tar_copy(struct lkb_input_tar *it, struct lkb_tree *root, const char *section,
                       size_t idx, struct lkb_error *err)
{
    const struct origin *o = reused(it, section, idx);
    if (!o)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "%s[%zu] is not copied", section, idx);
    lkb_info("Copy %s files from input tar: %s", o->location, o->source);
    uint32_t id = (uint32_t)(o - it->origins) + 1;
    int rc = lkb_tree_set_origin(root, o->source, o->location, err);
    /* Its entries, and the directories its write placed that a later
     * section wrote again (in its place, as the build would). */
    for (size_t i = 0; rc == 0 && i < it->n; i++)
        if (it->items[i].origin == id || it->items[i].placed == id)
            rc = copy_item(it, root, &it->items[i], err);
    return rc;
}

bool lkb_input_tar_sound(struct lkb_input_tar *it, struct lkb_tree *root)
{
    for (size_t i = 0; it && i < it->n; i++) {
        const struct item *e = &it->items[i];
        if (!e->origin || it->origins[e->origin - 1].reuse)
            continue;
        char *path = NULL;
        struct lkb_error err;
        const char *n = e->name;
        while (*n == '/')
            n++;
        if (!strcmp(n, ".") || !strcmp(n, "./") || lkb_tree_clean_path(n, &path, &err) < 0)
            continue;
        const struct lkb_node *node = lkb_tree_get(root, path);
        const char *src = NULL, *loc = NULL;
        if (node)
            lkb_tree_origin(root, node->origin, &src, &loc);
        bool ok = false;
        /* Written again, by a section that was not copied. */
        if (loc) {
            ok = true;
            for (uint32_t k = 0; k < it->n_origins; k++)
                if (it->origins[k].reuse && !strcmp(it->origins[k].location, loc) &&
                    !strcmp(it->origins[k].source, src))
                    ok = false;
        }
        if (!ok)
            lkb_info("Input tar: %s of %s is not written again; building everything", path,
                     it->origins[e->origin - 1].location);
        free(path);
        if (!ok)
            return false;
    }
    return true;
}
