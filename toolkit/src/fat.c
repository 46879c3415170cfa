#include "fat32.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SECTOR 512u
#define RESERVED 32u
#define NFATS 2u
#define MIN_CLUSTERS 65525u
#define DIRENT 32u
/* 2017-04-18 16:30:00, lkb's fixed time, in FAT's encoding. */
#define FAT_DATE (((2017 - 1980) << 9) | (4 << 5) | 18)
#define FAT_TIME ((16 << 11) | (30 << 5))

_Static_assert(SECTOR == 512, "FAT sector size");

struct node {
    char *name;
    int dir;
    const struct fat_file *file;
    struct node *kids;
    size_t n_kids, cap;
    uint32_t cluster, clusters;
    struct node *parent;
};

static uint32_t spc_for(uint64_t bytes)
{
    /* Small clusters keep small partitions valid FAT32 (>= 65525 clusters). */
    return bytes <= (UINT64_C(260) << 20) ? 1 : bytes <= (UINT64_C(8) << 30) ? 8 : 16;
}

static size_t lfn_slots(const char *name) { return (strlen(name) + 12) / 13; }

static uint32_t dir_bytes(const struct node *d)
{
    size_t entries = d->parent ? 2 : 1; /* . and .., or the volume label */
    for (size_t i = 0; i < d->n_kids; i++)
        entries += 1 + lfn_slots(d->kids[i].name);
    return (uint32_t)(entries * DIRENT);
}

static struct node *child(struct node *d, const char *name, size_t len, int dir)
{
    for (size_t i = 0; i < d->n_kids; i++)
        if (strlen(d->kids[i].name) == len && strncasecmp(d->kids[i].name, name, len) == 0)
            return &d->kids[i];
    if (d->n_kids == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        struct node *nk = realloc(d->kids, nc * sizeof *nk);
        if (!nk)
            return NULL;
        /* Children's parent pointers move with the array. */
        for (size_t i = 0; i < d->n_kids; i++)
            for (size_t j = 0; j < nk[i].n_kids; j++)
                nk[i].kids[j].parent = &nk[i];
        d->kids = nk;
        d->cap = nc;
    }
    struct node *c = &d->kids[d->n_kids++];
    memset(c, 0, sizeof *c);
    c->name = strndup(name, len);
    c->dir = dir;
    c->parent = d;
    return c->name ? c : NULL;
}

static void free_tree(struct node *d)
{
    for (size_t i = 0; i < d->n_kids; i++) {
        free_tree(&d->kids[i]);
        free(d->kids[i].name);
    }
    free(d->kids);
}

static int build_tree(struct node *root, const struct fat_file *files, size_t n)
{
    memset(root, 0, sizeof *root);
    root->dir = 1;
    for (size_t i = 0; i < n; i++) {
        struct node *d = root;
        const char *p = files[i].path;
        for (const char *s; (s = strchr(p, '/'));) {
            if (!(d = child(d, p, (size_t)(s - p), 1)))
                return -1;
            p = s + 1;
        }
        struct node *f = child(d, p, strlen(p), 0);
        if (!f)
            return -1;
        f->file = &files[i];
    }
    return 0;
}

static uint32_t count_clusters(struct node *d, uint32_t csize)
{
    uint32_t total = 0;
    if (d->dir) {
        d->clusters = (dir_bytes(d) + csize - 1) / csize;
        total += d->clusters;
        for (size_t i = 0; i < d->n_kids; i++)
            total += count_clusters(&d->kids[i], csize);
    } else {
        d->clusters = (uint32_t)((d->file->size + csize - 1) / csize);
        total += d->clusters;
    }
    return total;
}

uint64_t fat32_min_bytes(const struct fat_file *files, size_t n)
{
    struct node root;
    uint64_t data = 0;
    for (size_t i = 0; i < n; i++)
        data += files[i].size;
    uint64_t bytes = (data + data / 8 + (UINT64_C(8) << 20)) & ~((UINT64_C(1) << 20) - 1);
    for (;;) {
        uint32_t spc = spc_for(bytes), csize = spc * SECTOR;
        if (build_tree(&root, files, n) < 0) {
            free_tree(&root);
            return 0;
        }
        uint64_t need = count_clusters(&root, csize) + 16;
        free_tree(&root);
        if (need < MIN_CLUSTERS)
            need = MIN_CLUSTERS + 16;
        uint64_t fat_sectors = ((need + 2) * 4 + SECTOR - 1) / SECTOR;
        uint64_t total = RESERVED + NFATS * fat_sectors + need * spc;
        uint64_t b = (total * SECTOR + (UINT64_C(1) << 20) - 1) & ~((UINT64_C(1) << 20) - 1);
        if (b <= bytes && spc_for(b) == spc)
            return b;
        bytes = b;
    }
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

/* 8.3 alias: NAME~N.EXT from the long name; every entry gets a long name
 * too, so the alias only has to be valid and unique. */
static void short_name(const char *name, unsigned idx, unsigned char out[11])
{
    memset(out, ' ', 11);
    const char *dot = strrchr(name, '.');
    size_t base = dot && dot != name ? (size_t)(dot - name) : strlen(name), k = 0;
    for (size_t i = 0; i < base && k < 6; i++)
        if (isalnum((unsigned char)name[i]))
            out[k++] = (unsigned char)toupper((unsigned char)name[i]);
    if (!k)
        out[k++] = 'F';
    char suffix[8];
    int sl = snprintf(suffix, sizeof suffix, "~%u", idx);
    memcpy(out + (k + (size_t)sl > 8 ? 8 - (size_t)sl : k), suffix, (size_t)sl);
    if (dot && dot != name)
        for (size_t i = 1, e = 8; dot[i] && e < 11; i++)
            if (isalnum((unsigned char)dot[i]))
                out[e++] = (unsigned char)toupper((unsigned char)dot[i]);
}

static unsigned char lfn_checksum(const unsigned char s[11])
{
    unsigned char sum = 0;
    for (int i = 0; i < 11; i++)
        sum = (unsigned char)(((sum & 1) << 7) + (sum >> 1) + s[i]);
    return sum;
}

static void short_entry(unsigned char *e, const unsigned char name[11], int dir, uint32_t cluster,
                        uint32_t size)
{
    memset(e, 0, DIRENT);
    memcpy(e, name, 11);
    e[11] = dir ? 0x10 : 0x20;
    le16(e + 14, FAT_TIME);
    le16(e + 16, FAT_DATE);
    le16(e + 18, FAT_DATE);
    le16(e + 20, cluster >> 16);
    le16(e + 22, FAT_TIME);
    le16(e + 24, FAT_DATE);
    le16(e + 26, cluster & 0xffff);
    le32(e + 28, dir ? 0 : size);
}

/* Long-name entries (last part first), names are ASCII here. */
static unsigned char *put_lfn(unsigned char *e, const char *name, unsigned char sum)
{
    size_t len = strlen(name), slots = lfn_slots(name);
    static const int off[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    for (size_t s = slots; s >= 1; s--) {
        memset(e, 0, DIRENT);
        e[0] = (unsigned char)(s | (s == slots ? 0x40 : 0));
        e[11] = 0x0f;
        e[13] = sum;
        for (int c = 0; c < 13; c++) {
            size_t i = (s - 1) * 13 + (size_t)c;
            uint32_t ch = i < len ? (unsigned char)name[i] : i == len ? 0 : 0xffff;
            le16(e + off[c], ch);
        }
        e += DIRENT;
    }
    return e;
}

struct writer {
    int fd;
    uint64_t offset, data_off;
    uint32_t csize;
    uint32_t *fat;
    uint32_t next;
    char *msg;
    size_t msglen;
};

static uint64_t cluster_off(const struct writer *w, uint32_t c)
{
    return w->data_off + (uint64_t)(c - 2) * w->csize;
}

static int pwrite_all(struct writer *w, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t r = pwrite(w->fd, p, len, (off_t)(w->offset + off));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(w->msg, w->msglen, "writing the FAT32 partition: %s", strerror(errno));
            return -1;
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static void assign(struct writer *w, struct node *d)
{
    if (d->clusters) {
        d->cluster = w->next;
        for (uint32_t i = 0; i < d->clusters; i++)
            w->fat[d->cluster + i] = i + 1 < d->clusters ? d->cluster + i + 1 : 0x0fffffff;
        w->next += d->clusters;
    }
    for (size_t i = 0; i < d->n_kids; i++)
        assign(w, &d->kids[i]);
}

static int write_node(struct writer *w, struct node *d, const char *label)
{
    if (!d->dir)
        return d->file->size ? pwrite_all(w, d->file->data, d->file->size,
                                          cluster_off(w, d->cluster))
                             : 0;
    size_t bytes = (size_t)d->clusters * w->csize;
    unsigned char *buf = calloc(1, bytes), *e = buf;
    if (!buf) {
        snprintf(w->msg, w->msglen, "out of memory");
        return -1;
    }
    if (d->parent) {
        unsigned char dot[11], dotdot[11];
        memset(dot, ' ', 11);
        memset(dotdot, ' ', 11);
        dot[0] = '.';
        dotdot[0] = dotdot[1] = '.';
        short_entry(e, dot, 1, d->cluster, 0);
        e += DIRENT;
        short_entry(e, dotdot, 1, d->parent->parent ? d->parent->cluster : 0, 0);
        e += DIRENT;
    } else {
        unsigned char vol[11];
        memset(vol, ' ', 11);
        for (size_t i = 0; label[i] && i < 11; i++)
            vol[i] = (unsigned char)toupper((unsigned char)label[i]);
        short_entry(e, vol, 0, 0, 0);
        e[11] = 0x08;
        e += DIRENT;
    }
    for (size_t i = 0; i < d->n_kids; i++) {
        struct node *k = &d->kids[i];
        unsigned char sn[11];
        short_name(k->name, (unsigned)i + 1, sn);
        e = put_lfn(e, k->name, lfn_checksum(sn));
        short_entry(e, sn, k->dir, k->clusters ? k->cluster : 0,
                    k->dir ? 0 : (uint32_t)k->file->size);
        e += DIRENT;
    }
    int rc = pwrite_all(w, buf, bytes, cluster_off(w, d->cluster));
    free(buf);
    for (size_t i = 0; rc == 0 && i < d->n_kids; i++)
        rc = write_node(w, &d->kids[i], label);
    return rc;
}

int fat32_write(int fd, uint64_t offset, uint64_t bytes, uint32_t hidden, const char *label,
                const struct fat_file *files, size_t n, char *msg, size_t msglen)
{
    uint32_t spc = spc_for(bytes), total = (uint32_t)(bytes / SECTOR);
    /* FAT size: enough entries for every cluster that remains after it. */
    uint32_t fatsz = 1;
    for (;;) {
        uint32_t clusters = (total - RESERVED - NFATS * fatsz) / spc;
        uint32_t need = (uint32_t)(((uint64_t)clusters + 2) * 4 + SECTOR - 1) / SECTOR;
        if (need <= fatsz)
            break;
        fatsz = need;
    }
    uint32_t clusters = (total - RESERVED - NFATS * fatsz) / spc;
    if (clusters < MIN_CLUSTERS) {
        snprintf(msg, msglen, "boot partition of %llu bytes is too small for FAT32",
                 (unsigned long long)bytes);
        return -1;
    }
    struct node root;
    struct writer w = {fd, offset, (uint64_t)(RESERVED + NFATS * fatsz) * SECTOR, spc * SECTOR,
                       NULL, 2, msg, msglen};
    if (build_tree(&root, files, n) < 0) {
        free_tree(&root);
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    uint32_t used = count_clusters(&root, w.csize);
    if (used > clusters) {
        free_tree(&root);
        snprintf(msg, msglen, "the boot files need %u clusters, the partition has %u", used,
                 clusters);
        return -1;
    }
    w.fat = calloc((size_t)clusters + 2, sizeof *w.fat);
    if (!w.fat) {
        free_tree(&root);
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    w.fat[0] = 0x0ffffff8;
    w.fat[1] = 0x0fffffff;
    assign(&w, &root);

    unsigned char bs[SECTOR] = {0}, fsinfo[SECTOR] = {0};
    memcpy(bs, "\xeb\x58\x90" "LKB     ", 11);
    le16(bs + 11, SECTOR);
    bs[13] = (unsigned char)spc;
    le16(bs + 14, RESERVED);
    bs[16] = NFATS;
    bs[21] = 0xf8;
    le16(bs + 24, 63);
    le16(bs + 26, 255);
    le32(bs + 28, hidden);
    le32(bs + 32, total);
    le32(bs + 36, fatsz);
    le32(bs + 44, root.cluster);
    le16(bs + 48, 1); /* FSInfo */
    le16(bs + 50, 6); /* backup boot sector */
    bs[64] = 0x80;
    bs[66] = 0x29;
    /* Volume id from the label and size: reproducible, still distinct. */
    le32(bs + 67, (uint32_t)crc32(crc32(0, (const Bytef *)label, (uInt)strlen(label)),
                                  (const Bytef *)&total, sizeof total));
    memset(bs + 71, ' ', 11);
    for (size_t i = 0; label[i] && i < 11; i++)
        bs[71 + i] = (unsigned char)toupper((unsigned char)label[i]);
    memcpy(bs + 82, "FAT32   ", 8);
    bs[510] = 0x55;
    bs[511] = 0xaa;
    le32(fsinfo, 0x41615252);
    le32(fsinfo + 484, 0x61417272);
    le32(fsinfo + 488, clusters - (w.next - 2));
    le32(fsinfo + 492, w.next);
    le32(fsinfo + 508, 0xaa550000);

    int rc = 0;
    for (uint32_t copy = 0; rc == 0 && copy <= 6; copy += 6) /* primary and backup */
        rc = pwrite_all(&w, bs, SECTOR, (uint64_t)copy * SECTOR) ||
             pwrite_all(&w, fsinfo, SECTOR, (uint64_t)(copy + 1) * SECTOR);
    /* The FAT is little-endian 32-bit entries; write both copies. */
    size_t fat_bytes = (size_t)fatsz * SECTOR;
    unsigned char *fatbuf = rc == 0 ? calloc(1, fat_bytes) : NULL;
    if (rc == 0 && !fatbuf) {
        snprintf(msg, msglen, "out of memory");
        rc = -1;
    }
    for (uint32_t i = 0; fatbuf && i < clusters + 2; i++)
        le32(fatbuf + (size_t)i * 4, w.fat[i]);
    for (uint32_t f = 0; rc == 0 && f < NFATS; f++)
        rc = pwrite_all(&w, fatbuf, fat_bytes, (uint64_t)(RESERVED + f * fatsz) * SECTOR);
    free(fatbuf);
    if (rc == 0)
        rc = write_node(&w, &root, label);
    /* Clear free space that later writes might not cover? Not needed: the
     * image file is created sparse and zero-filled. */
    free(w.fat);
    free_tree(&root);
    return rc ? -1 : 0;
}
