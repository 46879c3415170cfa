#define _GNU_SOURCE
/* Initrd segments (issue 13): every segment a complete newc archive, hard
 * links kept within one, components apart, the same bytes with or without
 * the segment cache, a large file streamed whole. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "initrd/initrd.h"
#include "rootfs/tree.h"
#include "util/fs.h"

#include "tree_fixture.h"

TestSuite(segments, .init = tree_fixture_init, .fini = tree_fixture_fini);

static char *in_dir(const char *name)
{
    char *p;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static void noise(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 23);
    }
}

/* ~6 MiB of incompressible files in the base component, a hard link whose
 * two names are far apart, and two container bundles. */
static void add_tree(void)
{
    static unsigned char buf[20000];
    char path[64];
    for (int i = 0; i < 300; i++) {
        noise(buf, sizeof buf, (uint32_t)i);
        snprintf(path, sizeof path, "data/f%03d", i);
        cr_assert_eq(lkb_tree_add_file(&t, path, buf, sizeof buf, 0644, 0, 0, 7, &err), 0, "%s",
                     err.msg);
        if (i == 10) {
            /* data/link-a now; data/link-b (same blob) near the end. */
            struct lkb_node *n = lkb_tree_get(&t, path);
            cr_assert_eq(lkb_tree_add_blob(&t, "data/link-a", n->blob, 0644, 0, 0, 7, &err), 0);
        }
    }
    struct lkb_node *n = lkb_tree_get(&t, "data/f010");
    cr_assert_eq(lkb_tree_add_blob(&t, "data/link-b", n->blob, 0644, 0, 0, 7, &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "containers/services/a/config.json", "{}", 2, 0644, 0, 0, 7,
                                   &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "containers/onboot/000-b/config.json", "[]", 2, 0644, 0, 0,
                                   7, &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "etc/last", "z", 1, 0644, 0, 0, 7, &err), 0);
}

struct entry {
    char name[128];
    unsigned archive, ino, nlink, size;
};

/* Parse concatenated uncompressed newc archives. */
static size_t parse(const unsigned char *d, size_t len, struct entry *out, size_t max,
                    unsigned *archives)
{
    size_t i = 0, n = 0;
    *archives = 0;
    while (i + 110 <= len) {
        cr_assert(memcmp(d + i, "070701", 6) == 0, "no newc header at %zu", i);
        unsigned f[13];
        for (int k = 0; k < 13; k++) {
            char hex[9] = {0};
            memcpy(hex, d + i + 6 + 8 * k, 8);
            f[k] = (unsigned)strtoul(hex, NULL, 16);
        }
        const char *name = (const char *)d + i + 110;
        i = (i + 110 + f[11] + 3) & ~(size_t)3;
        if (!strcmp(name, "TRAILER!!!")) {
            (*archives)++;
            continue;
        }
        cr_assert_lt(n, max);
        snprintf(out[n].name, sizeof out[n].name, "%s", name);
        out[n].archive = *archives;
        out[n].ino = f[0];
        out[n].nlink = f[4];
        out[n].size = f[6];
        n++;
        i = (i + f[6] + 3) & ~(size_t)3;
    }
    cr_assert_eq(i, len, "trailing bytes after the last archive");
    return n;
}

static const struct entry *find(const struct entry *e, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].name, name))
            return &e[i];
    cr_assert_fail("%s not in the initrd", name);
    return NULL;
}

Test(segments, complete_archives_hard_links_together_components_apart, .timeout = 60)
{
    add_tree();
    char *p = in_dir("none.img");
    struct lkb_initrd_opts o = {.comp = LKB_INITRD_NONE, .mtime_clamp = -1};
    struct lkb_initrd_stats st;
    cr_assert_eq(lkb_initrd_write_opts(&t, p, &o, &st, &err), 0, "%s", err.msg);
    char *d;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(p, &d, &len, &err), 0);
    static struct entry e[400];
    unsigned archives;
    size_t n = parse((unsigned char *)d, len, e, 400, &archives);
    cr_assert_eq(archives, st.archives);
    cr_assert_geq(archives, 4, "6 MiB of base and two bundles in %u archives", archives);
    cr_assert_eq(st.components, 3);
    cr_assert_str_eq(e[0].name, ".");
    /* Every entry once: ".", data, 300 files, 2 links, etc, etc/last,
     * containers, its two kinds, two bundles and their files. */
    cr_assert_eq(n, 1 + 1 + 300 + 2 + 2 + 1 + 2 + 2 + 2, "%zu entries", n);
    const struct entry *a = find(e, n, "data/link-a"), *b = find(e, n, "data/link-b"),
                       *f = find(e, n, "data/f010");
    cr_assert(a->archive == b->archive && b->archive == f->archive,
              "hard links split across archives %u %u %u", a->archive, b->archive, f->archive);
    cr_assert(a->ino == b->ino && b->ino == f->ino);
    cr_assert_eq(a->nlink, 3);
    cr_assert_eq(a->size + b->size + f->size, 20000, "data exactly once");
    /* Bundles after the base, each in an archive of its own. */
    const struct entry *s = find(e, n, "containers/services/a/config.json"),
                       *o2 = find(e, n, "containers/onboot/000-b/config.json"),
                       *l = find(e, n, "etc/last");
    cr_assert_gt(s->archive, l->archive);
    cr_assert_gt(o2->archive, s->archive);
    cr_assert_gt(find(e, n, "containers/services/a")->archive,
                 find(e, n, "containers/services")->archive);
    free(d);
    free(p);
}

Test(segments, the_same_bytes_with_or_without_the_cache, .timeout = 60)
{
    add_tree();
    char *cache = in_dir("cache");
    static const enum lkb_initrd_compression comps[] = {LKB_INITRD_GZIP, LKB_INITRD_ZSTD,
                                                         LKB_INITRD_LZ4};
    for (size_t c = 0; c < 3; c++) {
        char *bytes[3];
        size_t len[3];
        struct lkb_initrd_stats st[3];
        for (int i = 0; i < 3; i++) {
            char name[32];
            snprintf(name, sizeof name, "out-%zu-%d.img", c, i);
            char *p = in_dir(name);
            /* 0: no cache, 1: an empty cache, 2: a full one. */
            struct lkb_initrd_opts o = {.comp = comps[c], .mtime_clamp = -1,
                                        .segment_cache = i ? cache : NULL};
            cr_assert_eq(lkb_initrd_write_opts(&t, p, &o, &st[i], &err), 0, "%s", err.msg);
            cr_assert_eq(lkb_fs_read_file(p, &bytes[i], &len[i], &err), 0);
            free(p);
        }
        cr_assert_eq(st[1].cached, 0);
        cr_assert_eq(st[2].cached, st[2].archives, "compression %zu: %zu of %zu cached", c,
                     st[2].cached, st[2].archives);
        for (int i = 1; i < 3; i++) {
            cr_assert_eq(len[i], len[0]);
            cr_assert(memcmp(bytes[i], bytes[0], len[0]) == 0, "compression %zu run %d", c, i);
        }
        for (int i = 0; i < 3; i++)
            free(bytes[i]);
    }
    free(cache);
}

/* A file of 32 MiB or more goes through the streaming compressor in an
 * archive of its own; the result still reads back whole, and is cached
 * like any archive (the same bytes from the cache, nothing compressed). */
Test(segments, a_large_file_is_streamed_whole, .timeout = 120)
{
    size_t big = 33u << 20;
    unsigned char *z = calloc(1, big);
    cr_assert_not_null(z);
    z[big - 1] = 'x';
    cr_assert_eq(lkb_tree_add_file(&t, "a", "a", 1, 0644, 0, 0, 7, &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "big", z, big, 0600, 0, 0, 7, &err), 0);
    cr_assert_eq(lkb_tree_add_file(&t, "z", "z", 1, 0644, 0, 0, 7, &err), 0);
    free(z);
    static const enum lkb_initrd_compression comps[] = {LKB_INITRD_GZIP, LKB_INITRD_ZSTD,
                                                         LKB_INITRD_LZ4, LKB_INITRD_NONE};
    static const char *const unpack[] = {"gzip -dc", "zstd -dc", "lz4 -dc", "cat"};
    for (int c = 0; c < 4; c++) {
        char *p = in_dir("big.img"), *cmd;
        struct lkb_initrd_opts o = {.comp = comps[c], .mtime_clamp = -1};
        struct lkb_initrd_stats st;
        cr_assert_eq(lkb_initrd_write_opts(&t, p, &o, &st, &err), 0, "%s", err.msg);
        cr_assert_eq(st.archives, 3, "before, the file, after: %zu", st.archives);
        char *cache = in_dir("big-cache"), *p2 = in_dir("big2.img");
        o.segment_cache = cache;
        for (int round = 0; round < 2; round++) {
            cr_assert_eq(lkb_initrd_write_opts(&t, p2, &o, &st, &err), 0, "%s", err.msg);
            cr_assert_eq(st.compressed, round && comps[c] != LKB_INITRD_NONE ? 0 : 3,
                         "round %d: %zu compressed", round, st.compressed);
            char *x, *y;
            size_t lx, ly;
            cr_assert_eq(lkb_fs_read_file(p, &x, &lx, &err), 0);
            cr_assert_eq(lkb_fs_read_file(p2, &y, &ly, &err), 0);
            cr_assert(lx == ly && !memcmp(x, y, lx), "round %d: other bytes", round);
            free(x);
            free(y);
        }
        free(cache);
        free(p2);
        cr_assert(asprintf(&cmd, "%s %s > %s.cpio", unpack[c], p, p) > 0);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        free(cmd);
        char *raw, *cp;
        size_t len;
        cr_assert(asprintf(&cp, "%s.cpio", p) > 0);
        cr_assert_eq(lkb_fs_read_file(cp, &raw, &len, &err), 0);
        static struct entry e[8];
        unsigned archives;
        size_t n = parse((unsigned char *)raw, len, e, 8, &archives);
        cr_assert_eq(archives, 3);
        cr_assert_eq(n, 4);
        cr_assert_eq(find(e, n, "big")->size, big);
        cr_assert_eq(find(e, n, "big")->archive, 1);
        free(raw);
        free(cp);
        free(p);
    }
}

/* Names of one blob more than 32 MiB apart would hold a whole archive
 * open: they become separate files, each with the data. */
Test(segments, far_apart_hard_links_become_separate_files, .timeout = 120)
{
    cr_assert_eq(lkb_tree_add_file(&t, "a/first", "linked", 6, 0644, 0, 0, 7, &err), 0);
    struct lkb_blob *shared = lkb_tree_get(&t, "a/first")->blob;
    size_t mb = 1u << 20;
    unsigned char *buf = malloc(mb);
    cr_assert_not_null(buf);
    char path[32];
    for (int i = 0; i < 34; i++) {
        noise(buf, mb, (uint32_t)i);
        snprintf(path, sizeof path, "m/%02d", i);
        cr_assert_eq(lkb_tree_add_file(&t, path, buf, mb, 0644, 0, 0, 7, &err), 0);
    }
    free(buf);
    cr_assert_eq(lkb_tree_add_blob(&t, "z/near", shared, 0644, 0, 0, 7, &err), 0);
    char *p = in_dir("far.img");
    struct lkb_initrd_opts o = {.comp = LKB_INITRD_NONE, .mtime_clamp = -1};
    cr_assert_eq(lkb_initrd_write_opts(&t, p, &o, NULL, &err), 0, "%s", err.msg);
    char *d;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(p, &d, &len, &err), 0);
    static struct entry e[64];
    unsigned archives;
    size_t n = parse((unsigned char *)d, len, e, 64, &archives);
    const struct entry *a = find(e, n, "a/first"), *z = find(e, n, "z/near");
    cr_assert_eq(a->size, 6);
    cr_assert_eq(z->size, 6);
    cr_assert_eq(a->nlink, 1);
    cr_assert_gt(z->archive, a->archive);
    free(d);
    free(p);
}
