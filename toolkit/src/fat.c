#include <lkb/disk/fat.h>
#include <lkb/disk/id.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "tree.h"

#define SECTOR 512u
#define NFATS 2u
#define DIRENT 32u
#define MiB (UINT64_C(1) << 20)
#define MAX_DIR_ENTRIES 65536u /* the FAT limit for a directory */
/* Cluster-count limits that define the FAT type (Microsoft's FAT spec). */
#define FAT12_MAX_CLUSTERS 4084u
#define FAT16_MIN_CLUSTERS 4085u
#define FAT16_MAX_CLUSTERS 65524u
#define FAT32_MIN_CLUSTERS 65525u
#define FAT32_MAX_CLUSTERS 0x0ffffff5u
#define FAT_CHUNK_ENTRIES 16384u /* even, so FAT12 chunks end on a byte */

_Static_assert(SECTOR == 512, "FAT sector size");
_Static_assert(FAT_CHUNK_ENTRIES % 2 == 0, "FAT12 chunk boundary");

struct geom {
    enum lkb_fat_type type;
    uint32_t total, spc, reserved, fatsz, root_entries, clusters;
    uint64_t root_off, data_off; /* bytes from the start of the file system */
};

/* Per-node layout, indexed by node id. */
struct fat {
    struct geom g;
    const struct lkb_disk_tree *tree;
    uint32_t *first, *count;
    unsigned char *slots; /* long-name entries per node */
    const struct disk_node **order; /* nodes holding clusters, by first cluster */
    size_t n_order;
    uint32_t next;
    uint16_t date, time;
    int fd;
    uint64_t offset;
    struct lkb_disk_error *err;
};

enum lkb_fat_type lkb_fat_auto_type(uint64_t bytes)
{
    return bytes >= 512 * MiB ? LKB_FAT32 : bytes >= 8 * MiB ? LKB_FAT16 : LKB_FAT12;
}

static uint64_t fat_bytes_for(enum lkb_fat_type type, uint64_t entries)
{
    return type == LKB_FAT12 ? (entries * 3 + 1) / 2 : entries * (type == LKB_FAT16 ? 2 : 4);
}

/* FAT32 cluster size by volume size: small clusters keep small partitions
 * valid FAT32 (>= 65525 clusters). */
static uint32_t fat32_spc(uint64_t bytes)
{
    return bytes <= 260 * MiB ? 1 : bytes <= (UINT64_C(8) << 30) ? 8 : bytes <= (UINT64_C(32) << 30) ? 16 : 32;
}

static uint32_t clusters_for(uint32_t total, uint32_t reserved, uint32_t root_sectors,
                             uint32_t spc, enum lkb_fat_type type, uint32_t *fatsz_out)
{
    /* FAT size: enough entries for every cluster that remains after it. */
    uint32_t fatsz = 1, clusters = 0;
    for (;;) {
        uint64_t meta = (uint64_t)reserved + NFATS * (uint64_t)fatsz + root_sectors;
        clusters = meta < total ? (uint32_t)((total - meta) / spc) : 0;
        uint32_t need = (uint32_t)((fat_bytes_for(type, (uint64_t)clusters + 2) + SECTOR - 1) / SECTOR);
        if (need <= fatsz)
            break;
        fatsz = need;
    }
    *fatsz_out = fatsz;
    return clusters;
}

/* 0: valid; 1: too small for the type; 2: too large for it. */
static int geometry(uint64_t bytes, enum lkb_fat_type type, uint32_t root_need, struct geom *g)
{
    memset(g, 0, sizeof *g);
    g->type = type;
    if (bytes / SECTOR > UINT32_MAX)
        return 2;
    g->total = (uint32_t)(bytes / SECTOR);
    uint32_t root_sectors = 0, lo, hi;
    if (type == LKB_FAT32) {
        g->reserved = 32;
        g->spc = fat32_spc(bytes);
        lo = FAT32_MIN_CLUSTERS;
        hi = FAT32_MAX_CLUSTERS;
    } else {
        g->reserved = 1;
        uint32_t want = root_need < 512 ? 512 : (root_need + 15) & ~15u;
        if (want > 0xfff0)
            return 2;
        g->root_entries = want;
        root_sectors = want * DIRENT / SECTOR;
        lo = type == LKB_FAT16 ? FAT16_MIN_CLUSTERS : 1;
        hi = type == LKB_FAT16 ? FAT16_MAX_CLUSTERS : FAT12_MAX_CLUSTERS;
        /* The smallest cluster (up to 32 KiB) that keeps the count in range. */
        for (g->spc = 1; g->spc <= 64; g->spc *= 2)
            if (clusters_for(g->total, g->reserved, root_sectors, g->spc, type, &g->fatsz) <= hi)
                break;
        if (g->spc > 64)
            return 2;
    }
    g->clusters = clusters_for(g->total, g->reserved, root_sectors, g->spc, type, &g->fatsz);
    if (g->clusters > hi)
        return 2;
    if (g->clusters < lo)
        return 1;
    g->root_off = ((uint64_t)g->reserved + NFATS * (uint64_t)g->fatsz) * SECTOR;
    g->data_off = g->root_off + (uint64_t)root_sectors * SECTOR;
    return 0;
}

/* UTF-8 to UTF-16; returns the number of units (up to max), or -1 for
 * invalid UTF-8. out may be NULL to count. */
static int utf16(const char *s, uint16_t *out, int max)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t c;
        int extra;
        if (*p < 0x80) {
            c = *p;
            extra = 0;
        } else if ((*p & 0xe0) == 0xc0) {
            c = *p & 0x1f;
            extra = 1;
        } else if ((*p & 0xf0) == 0xe0) {
            c = *p & 0x0f;
            extra = 2;
        } else if ((*p & 0xf8) == 0xf0) {
            c = *p & 0x07;
            extra = 3;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (*p & 0x3f);
        }
        if ((extra == 1 && c < 0x80) || (extra == 2 && c < 0x800) ||
            (extra == 3 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
            return -1;
        int units = c >= 0x10000 ? 2 : 1;
        if (n + units > max)
            return max + 1;
        if (out && units == 2) {
            out[n] = (uint16_t)(0xd800 + ((c - 0x10000) >> 10));
            out[n + 1] = (uint16_t)(0xdc00 + ((c - 0x10000) & 0x3ff));
        } else if (out) {
            out[n] = (uint16_t)c;
        }
        n += units;
    }
    return n;
}

/* By name ignoring (ASCII) case, then by creation. */
static int cmp_folded(const void *a, const void *b)
{
    const struct disk_node *x = *(const struct disk_node *const *)a,
                           *y = *(const struct disk_node *const *)b;
    int c = strcasecmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

/* FAT looks names up ignoring case: two that differ only in case clash.
 * Sorted, so a directory of many files stays fast; the later one is named. */
static int check_case(struct fat *f, const struct disk_node *d)
{
    if (d->n_kids < 2)
        return 0;
    const struct disk_node **s = malloc(d->n_kids * sizeof *s);
    if (!s)
        return disk_error(f->err, "out of memory");
    memcpy(s, d->kids, d->n_kids * sizeof *s);
    qsort(s, d->n_kids, sizeof *s, cmp_folded);
    int rc = 0;
    for (size_t i = 1; rc == 0 && i < d->n_kids; i++) {
        if (strcasecmp(s[i - 1]->name, s[i]->name) == 0) {
            char *path = disk_node_path(s[i]);
            rc = disk_error(f->err,
                            "\"%s\" cannot go into a FAT file system: the name differs from "
                            "another name only in case",
                            path ? path : s[i]->name);
            free(path);
        }
    }
    free(s);
    return rc;
}

/* Check every name and count its long-name entries. */
static int check_names(struct fat *f, const struct disk_node *d)
{
    for (size_t i = 0; i < d->n_kids; i++) {
        const struct disk_node *k = d->kids[i];
        const char *bad = NULL;
        int units = utf16(k->name, NULL, 255);
        size_t len = strlen(k->name);
        if (units < 0)
            bad = "is not valid UTF-8";
        else if (units > 255)
            bad = "is longer than 255 characters";
        else if (strpbrk(k->name, "\"*:<>?\\|"))
            bad = "contains one of \" * : < > ? \\ |";
        else if (k->name[len - 1] == '.' || k->name[len - 1] == ' ')
            bad = "ends with a dot or a space";
        for (size_t j = 0; !bad && j < len; j++)
            if ((unsigned char)k->name[j] < 0x20)
                bad = "contains a control character";
        if (!bad && !k->dir && k->size > UINT32_MAX)
            bad = "is larger than FAT's 4 GiB - 1 file size limit";
        if (bad) {
            char *path = disk_node_path(k);
            disk_error(f->err, "\"%s\" cannot go into a FAT file system: the name %s",
                       path ? path : k->name, bad);
            free(path);
            return -1;
        }
        f->slots[k->id] = (unsigned char)((units + 12) / 13);
        if (k->dir && check_names(f, k) < 0)
            return -1;
    }
    return check_case(f, d);
}

static int has_label(const struct lkb_fat_opts *o) { return o && o->label && *o->label; }

static uint64_t dir_entries(const struct fat *f, const struct disk_node *d, int label)
{
    uint64_t entries = d->parent ? 2 : (uint64_t)label; /* . and .., or the volume label */
    for (size_t i = 0; i < d->n_kids; i++)
        entries += 1 + (uint64_t)f->slots[d->kids[i]->id];
    return entries;
}

/* Clusters of every node for a cluster size; UINT64_MAX when a directory
 * has more entries than FAT allows. */
static uint64_t count_clusters(struct fat *f, const struct disk_node *d, uint32_t csize, int label)
{
    uint64_t total = 0;
    if (!d->dir) {
        f->count[d->id] = (uint32_t)((d->size + csize - 1) / csize);
        return f->count[d->id];
    }
    uint64_t entries = dir_entries(f, d, label);
    if (entries > MAX_DIR_ENTRIES)
        return UINT64_MAX;
    if (!d->parent && f->g.type != LKB_FAT32)
        f->count[d->id] = 0; /* FAT12/16: the root is its own fixed area */
    else /* at least one cluster: an empty FAT32 root still has one */
        f->count[d->id] = entries ? (uint32_t)((entries * DIRENT + csize - 1) / csize) : 1;
    total = f->count[d->id];
    for (size_t i = 0; i < d->n_kids; i++) {
        uint64_t k = count_clusters(f, d->kids[i], csize, label);
        if (k == UINT64_MAX)
            return k;
        total += k;
    }
    return total;
}

static int fat_init(struct fat *f, const struct lkb_disk_tree *t, struct lkb_disk_error *err)
{
    memset(f, 0, sizeof *f);
    f->tree = t;
    f->err = err;
    f->first = calloc(t->n_nodes, sizeof *f->first);
    f->count = calloc(t->n_nodes, sizeof *f->count);
    f->slots = calloc(t->n_nodes, 1);
    f->order = calloc(t->n_nodes, sizeof *f->order);
    if (!f->first || !f->count || !f->slots || !f->order)
        return disk_error(err, "out of memory");
    return check_names(f, &t->root);
}

static void fat_free(struct fat *f)
{
    free(f->first);
    free(f->count);
    free(f->slots);
    free(f->order);
}

static const char *type_name(enum lkb_fat_type t)
{
    return t == LKB_FAT12 ? "FAT12" : t == LKB_FAT16 ? "FAT16" : "FAT32";
}

static int valid_type(enum lkb_fat_type t)
{
    return t == LKB_FAT_AUTO || t == LKB_FAT12 || t == LKB_FAT16 || t == LKB_FAT32;
}

/* Lay out `bytes` of `type`: 0 fits, 1 too small, 2 too large for the type,
 * 3 a directory has too many entries. Sets f->g and the cluster counts. */
static int plan(struct fat *f, uint64_t bytes, enum lkb_fat_type type, int label, uint64_t *need)
{
    uint32_t root_need = (uint32_t)dir_entries(f, &f->tree->root, label);
    if (dir_entries(f, &f->tree->root, label) > MAX_DIR_ENTRIES)
        return 3;
    int rc = geometry(bytes, type, root_need, &f->g);
    if (rc)
        return rc;
    *need = count_clusters(f, &f->tree->root, f->g.spc * SECTOR, label);
    if (*need == UINT64_MAX)
        return 3;
    return *need <= f->g.clusters ? 0 : 1;
}

int lkb_fat_min_bytes(const struct lkb_disk_tree *t, enum lkb_fat_type type, uint64_t *bytes,
                      struct lkb_disk_error *err)
{
    if (!valid_type(type))
        return disk_error(err, "unknown FAT type %d (want 0, 12, 16 or 32)", (int)type);
    struct fat f;
    if (fat_init(&f, t, err) < 0) {
        fat_free(&f);
        return -1;
    }
    /* The label entry is counted: it costs at most one directory entry. */
    uint64_t b = (t->data_bytes + MiB - 1) & ~(MiB - 1), need = 0;
    if (b < MiB)
        b = MiB;
    int rc;
    for (;;) {
        enum lkb_fat_type ty = type ? type : lkb_fat_auto_type(b);
        rc = plan(&f, b, ty, 1, &need);
        if (rc == 0 || rc == 3 || (rc == 2 && (type || ty == LKB_FAT32)))
            break;
        uint64_t step = (b / 32) & ~(MiB - 1);
        b += step < MiB ? MiB : step;
    }
    fat_free(&f);
    if (rc == 3)
        return disk_error(err, "a directory has more than %u entries, FAT's limit",
                          MAX_DIR_ENTRIES);
    if (rc == 2)
        return disk_error(err, "%llu bytes of files do not fit in %s",
                          (unsigned long long)t->data_bytes, type_name(type ? type : LKB_FAT32));
    *bytes = b;
    return 0;
}

static void le16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void le32(unsigned char *p, uint32_t v)
{
    le16(p, v);
    le16(p + 2, v >> 16);
}

/* 8.3 alias: NAME~N.EXT from the long name, N the entry's index in its
 * directory; every entry gets a long name too, so the alias only has to be
 * valid and unique. */
static void short_name(const char *name, unsigned idx, unsigned char out[11])
{
    memset(out, ' ', 11);
    const char *dot = strrchr(name, '.');
    size_t base = dot && dot != name ? (size_t)(dot - name) : strlen(name), k = 0;
    for (size_t i = 0; i < base && k < 6; i++)
        if (isalnum((unsigned char)name[i]) && !((unsigned char)name[i] & 0x80))
            out[k++] = (unsigned char)toupper((unsigned char)name[i]);
    if (!k)
        out[k++] = 'F';
    char suffix[16];
    int sl = snprintf(suffix, sizeof suffix, "~%u", idx);
    memcpy(out + (k + (size_t)sl > 8 ? 8 - (size_t)sl : k), suffix, (size_t)sl);
    if (dot && dot != name)
        for (size_t i = 1, e = 8; dot[i] && e < 11; i++)
            if (isalnum((unsigned char)dot[i]) && !((unsigned char)dot[i] & 0x80))
                out[e++] = (unsigned char)toupper((unsigned char)dot[i]);
}

static unsigned char lfn_checksum(const unsigned char s[11])
{
    unsigned char sum = 0;
    for (int i = 0; i < 11; i++)
        sum = (unsigned char)(((sum & 1) << 7) + (sum >> 1) + s[i]);
    return sum;
}

static void short_entry(const struct fat *f, unsigned char *e, const unsigned char name[11],
                        unsigned char attr, uint32_t cluster, uint32_t size)
{
    memset(e, 0, DIRENT);
    memcpy(e, name, 11);
    e[11] = attr;
    le16(e + 14, f->time);
    le16(e + 16, f->date);
    le16(e + 18, f->date);
    le16(e + 20, f->g.type == LKB_FAT32 ? cluster >> 16 : 0);
    le16(e + 22, f->time);
    le16(e + 24, f->date);
    le16(e + 26, cluster & 0xffff);
    le32(e + 28, size);
}

/* Long-name entries, last part first. */
static unsigned char *put_lfn(unsigned char *e, const char *name, size_t slots, unsigned char sum)
{
    static const int off[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    uint16_t u[256];
    size_t len = (size_t)utf16(name, u, 255);
    for (size_t s = slots; s >= 1; s--) {
        memset(e, 0, DIRENT);
        e[0] = (unsigned char)(s | (s == slots ? 0x40 : 0));
        e[11] = 0x0f;
        e[13] = sum;
        for (int c = 0; c < 13; c++) {
            size_t i = (s - 1) * 13 + (size_t)c;
            le16(e + off[c], i < len ? u[i] : i == len ? 0 : 0xffff);
        }
        e += DIRENT;
    }
    return e;
}

static uint64_t cluster_off(const struct fat *f, uint32_t c)
{
    return f->g.data_off + (uint64_t)(c - 2) * f->g.spc * SECTOR;
}

static int put(struct fat *f, const void *buf, size_t len, uint64_t off)
{
    if (disk_pwrite_all(f->fd, buf, len, f->offset + off) < 0)
        return disk_errno(f->err, errno, "writing the %s file system", type_name(f->g.type));
    return 0;
}

static void assign(struct fat *f, const struct disk_node *d)
{
    if (f->count[d->id]) {
        f->first[d->id] = f->next;
        f->next += f->count[d->id];
        f->order[f->n_order++] = d;
    }
    for (size_t i = 0; i < d->n_kids; i++)
        assign(f, d->kids[i]);
}

static void volume_name(const char *label, unsigned char out[11])
{
    memset(out, ' ', 11);
    for (size_t i = 0; label && label[i] && i < 11; i++)
        out[i] = (unsigned char)toupper((unsigned char)label[i]);
}

static int write_dir(struct fat *f, const struct disk_node *d, const char *label)
{
    int fixed_root = !d->parent && f->g.type != LKB_FAT32;
    size_t bytes = fixed_root ? (size_t)f->g.root_entries * DIRENT
                              : (size_t)f->count[d->id] * f->g.spc * SECTOR;
    unsigned char *buf = calloc(1, bytes), *e = buf;
    if (!buf)
        return disk_error(f->err, "out of memory");
    if (d->parent) {
        unsigned char dot[11], dotdot[11];
        memset(dot, ' ', 11);
        memset(dotdot, ' ', 11);
        dot[0] = dotdot[0] = dotdot[1] = '.';
        short_entry(f, e, dot, 0x10, f->first[d->id], 0);
        e += DIRENT;
        short_entry(f, e, dotdot, 0x10, d->parent->parent ? f->first[d->parent->id] : 0, 0);
        e += DIRENT;
    } else if (label) {
        unsigned char vol[11];
        volume_name(label, vol);
        short_entry(f, e, vol, 0x08, 0, 0);
        e += DIRENT;
    }
    for (size_t i = 0; i < d->n_kids; i++) {
        const struct disk_node *k = d->kids[i];
        unsigned char sn[11];
        short_name(k->name, (unsigned)i + 1, sn);
        e = put_lfn(e, k->name, f->slots[k->id], lfn_checksum(sn));
        short_entry(f, e, sn, k->dir ? 0x10 : 0x20, f->first[k->id], k->dir ? 0 : (uint32_t)k->size);
        e += DIRENT;
    }
    int rc = put(f, buf, bytes, fixed_root ? f->g.root_off : cluster_off(f, f->first[d->id]));
    free(buf);
    return rc;
}

/* Files and directories in cluster order; a file's last cluster is padded
 * with zeros so reused space never leaks into the image. */
static int write_nodes(struct fat *f, const char *label)
{
    static const unsigned char zeros[4096];
    uint64_t csize = (uint64_t)f->g.spc * SECTOR;
    if (f->g.type != LKB_FAT32 && write_dir(f, &f->tree->root, label) < 0)
        return -1;
    for (size_t i = 0; i < f->n_order; i++) {
        const struct disk_node *n = f->order[i];
        if (n->dir) {
            if (write_dir(f, n, label) < 0)
                return -1;
            continue;
        }
        uint64_t off = cluster_off(f, f->first[n->id]);
        if (disk_node_copy(n, f->fd, f->offset + off, f->err) < 0)
            return -1;
        for (uint64_t p = n->size, end = (uint64_t)f->count[n->id] * csize; p < end;) {
            size_t len = end - p > sizeof zeros ? sizeof zeros : (size_t)(end - p);
            if (put(f, zeros, len, off + p) < 0)
                return -1;
            p += len;
        }
    }
    return 0;
}

static uint32_t eoc(enum lkb_fat_type t)
{
    return t == LKB_FAT12 ? 0xfff : t == LKB_FAT16 ? 0xffff : 0x0fffffff;
}

static void set_entry(enum lkb_fat_type t, unsigned char *buf, uint32_t rel, uint32_t v)
{
    if (t == LKB_FAT32) {
        le32(buf + (size_t)rel * 4, v);
    } else if (t == LKB_FAT16) {
        le16(buf + (size_t)rel * 2, v);
    } else {
        unsigned char *p = buf + (size_t)rel * 3 / 2;
        if (rel % 2 == 0) {
            p[0] = (unsigned char)v;
            p[1] = (unsigned char)((p[1] & 0xf0) | ((v >> 8) & 0x0f));
        } else {
            p[0] = (unsigned char)((p[0] & 0x0f) | ((v << 4) & 0xf0));
            p[1] = (unsigned char)(v >> 4);
        }
    }
}

/* Both FAT copies, generated a chunk at a time from the allocation runs. */
static int write_fats(struct fat *f)
{
    enum lkb_fat_type t = f->g.type;
    uint64_t fat_bytes = (uint64_t)f->g.fatsz * SECTOR;
    size_t chunk = (size_t)fat_bytes_for(t, FAT_CHUNK_ENTRIES);
    unsigned char *buf = malloc(chunk);
    if (!buf)
        return disk_error(f->err, "out of memory");
    size_t r = 0;
    int rc = 0;
    for (uint64_t e0 = 0; rc == 0 && fat_bytes_for(t, e0) < fat_bytes; e0 += FAT_CHUNK_ENTRIES) {
        memset(buf, 0, chunk);
        for (uint32_t rel = 0; rel < FAT_CHUNK_ENTRIES; rel++) {
            uint64_t e = e0 + rel;
            uint32_t v = 0;
            if (e == 0)
                v = eoc(t) & ~7u; /* media descriptor 0xf8 in the low byte */
            else if (e == 1)
                v = eoc(t);
            else {
                while (r < f->n_order &&
                       e >= (uint64_t)f->first[f->order[r]->id] + f->count[f->order[r]->id])
                    r++;
                if (r < f->n_order && e >= f->first[f->order[r]->id]) {
                    uint64_t last = (uint64_t)f->first[f->order[r]->id] + f->count[f->order[r]->id] - 1;
                    v = e < last ? (uint32_t)e + 1 : eoc(t);
                }
            }
            set_entry(t, buf, rel, v);
        }
        uint64_t pos = fat_bytes_for(t, e0);
        size_t len = fat_bytes - pos < chunk ? (size_t)(fat_bytes - pos) : chunk;
        for (uint32_t copy = 0; rc == 0 && copy < NFATS; copy++)
            rc = put(f, buf, len, (uint64_t)f->g.reserved * SECTOR + copy * fat_bytes + pos);
    }
    free(buf);
    return rc;
}

static void fat_time(int64_t t, uint16_t *date, uint16_t *tm)
{
    if (t < 315532800) /* 1980-01-01, FAT's epoch */
        t = 315532800;
    if (t > 4354819198LL) /* 2107-12-31 23:59:58 */
        t = 4354819198LL;
    time_t tt = (time_t)t;
    struct tm g;
    gmtime_r(&tt, &g);
    *date = (uint16_t)(((g.tm_year + 1900 - 1980) << 9) | ((g.tm_mon + 1) << 5) | g.tm_mday);
    *tm = (uint16_t)((g.tm_hour << 11) | (g.tm_min << 5) | (g.tm_sec / 2));
}

static int write_boot(struct fat *f, const struct lkb_fat_opts *o, const char *label)
{
    const struct geom *g = &f->g;
    unsigned char bs[SECTOR] = {0}, fsinfo[SECTOR] = {0};
    int f32 = g->type == LKB_FAT32;
    memcpy(bs, f32 ? "\xeb\x58\x90" : "\xeb\x3c\x90", 3);
    memcpy(bs + 3, "LKB     ", 8);
    le16(bs + 11, SECTOR);
    bs[13] = (unsigned char)g->spc;
    le16(bs + 14, g->reserved);
    bs[16] = NFATS;
    le16(bs + 17, g->root_entries);
    if (!f32 && g->total < 65536)
        le16(bs + 19, g->total);
    else
        le32(bs + 32, g->total);
    bs[21] = 0xf8;
    if (!f32)
        le16(bs + 22, g->fatsz);
    le16(bs + 24, 63);
    le16(bs + 26, 255);
    le32(bs + 28, o ? o->hidden_sectors : 0);
    /* The extended BPB sits after the FAT32 fields on FAT32. */
    unsigned char *x = bs + (f32 ? 64 : 36);
    if (f32) {
        le32(bs + 36, g->fatsz);
        le32(bs + 44, f->first[f->tree->root.id]);
        le16(bs + 48, 1); /* FSInfo */
        le16(bs + 50, 6); /* backup boot sector */
    }
    x[0] = 0x80;
    x[2] = 0x29;
    char purpose[64];
    snprintf(purpose, sizeof purpose, "fat-serial:%s", label ? label : "");
    le32(x + 3, o && o->serial ? o->serial : lkb_disk_id32(o ? o->seed : NULL, purpose));
    if (label)
        volume_name(label, x + 7);
    else
        memcpy(x + 7, "NO NAME    ", 11);
    memcpy(x + 18, f32 ? "FAT32   " : g->type == LKB_FAT16 ? "FAT16   " : "FAT12   ", 8);
    bs[510] = 0x55;
    bs[511] = 0xaa;
    if (!f32)
        return put(f, bs, SECTOR, 0);
    le32(fsinfo, 0x41615252);
    le32(fsinfo + 484, 0x61417272);
    le32(fsinfo + 488, g->clusters - (f->next - 2));
    le32(fsinfo + 492, f->next);
    le32(fsinfo + 508, 0xaa550000);
    for (uint32_t copy = 0; copy <= 6; copy += 6) /* primary and backup */
        if (put(f, bs, SECTOR, (uint64_t)copy * SECTOR) < 0 ||
            put(f, fsinfo, SECTOR, (uint64_t)(copy + 1) * SECTOR) < 0)
            return -1;
    return 0;
}

int lkb_fat_write(int fd, uint64_t offset, uint64_t bytes, const struct lkb_fat_opts *o,
                  const struct lkb_disk_tree *t, struct lkb_disk_error *err)
{
    enum lkb_fat_type type = o ? o->type : LKB_FAT_AUTO;
    if (!valid_type(type))
        return disk_error(err, "unknown FAT type %d (want 0, 12, 16 or 32)", (int)type);
    if (bytes % SECTOR)
        return disk_error(err, "FAT file system size %llu is not a multiple of 512",
                          (unsigned long long)bytes);
    if (!type)
        type = lkb_fat_auto_type(bytes);
    const char *label = has_label(o) ? o->label : NULL;
    if (label && strlen(label) > 11)
        return disk_error(err, "FAT volume label \"%s\" is longer than 11 bytes", label);
    struct fat f;
    uint64_t need = 0;
    int rc = fat_init(&f, t, err);
    if (rc == 0) {
        f.fd = fd;
        f.offset = offset;
        fat_time(o ? o->mtime : 0, &f.date, &f.time);
        switch (plan(&f, bytes, type, label != NULL, &need)) {
        case 0:
            break;
        case 2:
            rc = disk_error(err, "%llu bytes is too large for %s", (unsigned long long)bytes,
                            type_name(type));
            break;
        case 3:
            rc = disk_error(err, "a directory has more than %u entries, FAT's limit",
                            MAX_DIR_ENTRIES);
            break;
        default:
            if (need && f.g.total)
                rc = disk_error(err,
                                "the files need %llu clusters of %u bytes, a %s file system of "
                                "%llu bytes has %u",
                                (unsigned long long)need, f.g.spc * SECTOR, type_name(type),
                                (unsigned long long)bytes, f.g.clusters);
            else
                rc = disk_error(err, "%llu bytes is too small for %s", (unsigned long long)bytes,
                                type_name(type));
        }
    }
    if (rc == 0) {
        f.next = 2;
        assign(&f, &t->root);
        rc = write_boot(&f, o, label);
    }
    if (rc == 0)
        rc = write_fats(&f);
    if (rc == 0)
        rc = write_nodes(&f, label);
    fat_free(&f);
    return rc ? -1 : 0;
}
