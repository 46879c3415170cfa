/* Unpacked layers: files laid out as ranges of an uncompressed tar hold
 * exactly the bytes libarchive reads for them (ustar, pax and GNU long
 * names, hard links, empty and odd sizes; a tar inside a layer, such as
 * kernel.tar), the initrd made from ranges is
 * the one made from copies, its segments are keyed without reading them,
 * and a tar cut short is refused. */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "initrd/initrd.h"
#include "rootfs/layer.h"
#include "rootfs/tree.h"
#include "util/fs.h"

static char *dir;

static void setup(void)
{
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-unpacked", &dir, &err), 0);
}

static void teardown(void)
{
    struct lkb_error err;
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

TestSuite(unpacked, .init = setup, .fini = teardown);

static const size_t sizes[] = {0, 1, 3, 511, 512, 513, 4097, 70001, (1u << 20) + 5};

/* A layer tar at path in the given libarchive format: a file per size
 * (names past 100 characters on every other), a directory, a symlink
 * and a hard link. */
static void write_layer(const char *path, int format)
{
    struct archive *a = archive_write_new();
    archive_write_set_format(a, format);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "d");
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    unsigned char *data = malloc(sizes[sizeof sizes / sizeof *sizes - 1]);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char name[256];
        snprintf(name, sizeof name, "d/%s%zu", i % 2 ? "" :
                 "a-name-long-enough-to-need-an-extension-record-in-every-tar-dialect-that-"
                 "has-one-xxxxxxxxxxxxxxxxxx-", i);
        for (size_t k = 0; k < sizes[i]; k++)
            data[k] = (unsigned char)(k * 7 + i);
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)sizes[i]);
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
        cr_assert_eq(archive_write_data(a, data, sizes[i]), (la_ssize_t)sizes[i]);
    }
    free(data);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "d/link");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, "1");
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "d/hard");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_hardlink(e, "d/3");
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static int lay_out(struct lkb_tree *t, const char *path, bool ranges, struct lkb_error *err)
{
    lkb_tree_init(t, 0);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    cr_assert_eq(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
    struct lkb_blob_file *f = NULL;
    if (ranges)
        cr_assert_eq(lkb_blob_file_map(path, "sha256:test", &f, err), 0, "%s", err->msg);
    int rc = lkb_layer_apply_file(t, a, f, 0, "sha256:test", err);
    archive_read_free(a);
    lkb_blob_file_unref(f);
    return rc;
}

static void same_trees(int format)
{
    char *tar = lkb_fs_join(dir, "layer.tar");
    write_layer(tar, format);
    struct lkb_tree copies, ranges;
    struct lkb_error err;
    cr_assert_eq(lay_out(&copies, tar, false, &err), 0, "%s", err.msg);
    cr_assert_eq(lay_out(&ranges, tar, true, &err), 0, "%s", err.msg);
    cr_assert_eq(copies.n, ranges.n);
    size_t files = 0;
    for (size_t i = 0; i < copies.n; i++) {
        const struct lkb_node *c = &copies.nodes[i], *r = &ranges.nodes[i];
        cr_assert_str_eq(c->path, r->path);
        if (c->type != LKB_NODE_FILE)
            continue;
        files++;
        cr_assert_null(c->blob->file);
        cr_assert_not_null(r->blob->file, "%s is not a range", r->path);
        cr_assert_eq(c->blob->size, r->blob->size, "%s", r->path);
        cr_assert(!c->blob->size || !memcmp(c->blob->data, r->blob->data, c->blob->size),
                  "%s: the range holds other bytes", r->path);
    }
    cr_assert_eq(files, sizeof sizes / sizeof *sizes + 1);
    cr_assert_eq(lkb_tree_get(&ranges, "d/hard")->blob, lkb_tree_get(&ranges, "d/3")->blob,
                 "a hard link is one blob");

    /* The initrd: the same bytes from ranges as from copies, with or
     * without cached segments, and a rebuild from ranges reads nothing
     * it finds in the cache. */
    char *p1 = lkb_fs_join(dir, "copies.img"), *p2 = lkb_fs_join(dir, "ranges.img"),
         *p3 = lkb_fs_join(dir, "cached.img"), *cache = lkb_fs_join(dir, "cache");
    struct lkb_initrd_opts o = {.comp = LKB_INITRD_GZIP, .mtime_clamp = -1};
    struct lkb_initrd_stats st;
    cr_assert_eq(lkb_initrd_write_opts(&copies, p1, &o, NULL, &err), 0, "%s", err.msg);
    o.segment_cache = cache;
    cr_assert_eq(lkb_initrd_write_opts(&ranges, p2, &o, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.compressed, st.archives);
    cr_assert_eq(lkb_initrd_write_opts(&ranges, p3, &o, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(st.compressed, 0);
    cr_assert_eq(st.cached, st.archives);
    char *a, *b, *c;
    size_t la, lb, lc;
    cr_assert_eq(lkb_fs_read_file(p1, &a, &la, &err), 0);
    cr_assert_eq(lkb_fs_read_file(p2, &b, &lb, &err), 0);
    cr_assert_eq(lkb_fs_read_file(p3, &c, &lc, &err), 0);
    cr_assert(la == lb && !memcmp(a, b, la), "the initrd from ranges differs");
    cr_assert(la == lc && !memcmp(a, c, la), "the initrd from cached segments differs");
    free(a), free(b), free(c);
    free(p1), free(p2), free(p3), free(cache);
    lkb_tree_free(&copies);
    lkb_tree_free(&ranges);
    free(tar);
}

Test(unpacked, pax) { same_trees(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED); }
Test(unpacked, gnutar) { same_trees(ARCHIVE_FORMAT_TAR_GNUTAR); }
Test(unpacked, ustar_v7_names) { same_trees(ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE); }

Test(unpacked, range_bounds)
{
    char *tar = lkb_fs_join(dir, "layer.tar");
    write_layer(tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    struct lkb_blob_file *f;
    struct lkb_error err;
    cr_assert_eq(lkb_blob_file_map(tar, "sha256:test", &f, &err), 0, "%s", err.msg);
    cr_assert_null(lkb_blob_range(f, f->size, 1));
    cr_assert_null(lkb_blob_range(f, f->size + 1, 0));
    cr_assert_null(lkb_blob_range(f, 1, f->size));
    struct lkb_blob *b = lkb_blob_range(f, f->size - 3, 3);
    cr_assert_not_null(b);
    cr_assert_eq(f->refs, 2);
    lkb_blob_unref(b);
    lkb_blob_file_unref(f);
    free(tar);
}

/* A tar cut inside the last file's data: refused, not read past its end. */
Test(unpacked, truncated)
{
    char *tar = lkb_fs_join(dir, "layer.tar");
    write_layer(tar, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    FILE *fp = fopen(tar, "r+");
    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fclose(fp);
    /* The 1 MiB file is last but for two headers and the end blocks. */
    cr_assert_eq(truncate(tar, len - 4096 - 512 * 4), 0);
    struct lkb_tree t;
    struct lkb_error err;
    cr_assert_eq(lay_out(&t, tar, true, &err), -1);
    cr_assert(strstr(err.msg, "sha256:test"), "%s", err.msg);
    lkb_tree_free(&t);
    free(tar);
}

/* A tar inside a layer (kernel.tar): laid out from the layer's range, its
 * files are ranges of the layer itself when it is uncompressed, copies
 * when it is gzipped; the bytes are the same either way. */
static void inner_tar(bool gzip)
{
    char *inner = lkb_fs_join(dir, "inner.tar"), *outer = lkb_fs_join(dir, "outer.tar");
    write_layer(inner, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
    char *data;
    size_t len;
    struct lkb_error err;
    cr_assert_eq(lkb_fs_read_file(inner, &data, &len, &err), 0);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    cr_assert_eq(archive_write_open_filename(a, outer), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    if (gzip) {
        /* The inner tar gzipped in memory first. */
        size_t cap = len + 4096, used;
        char *gz = malloc(cap);
        struct archive *g = archive_write_new();
        archive_write_set_format_raw(g);
        archive_write_add_filter_gzip(g);
        cr_assert_eq(archive_write_open_memory(g, gz, cap, &used), ARCHIVE_OK);
        archive_entry_set_filetype(e, AE_IFREG);
        cr_assert_eq(archive_write_header(g, e), ARCHIVE_OK);
        archive_write_data(g, data, len);
        archive_write_close(g);
        archive_write_free(g);
        free(data);
        data = gz;
        len = used;
    }
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "kernel.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    cr_assert_eq(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    free(data);

    struct lkb_tree kt, copies, ranges;
    cr_assert_eq(lay_out(&kt, outer, true, &err), 0, "%s", err.msg);
    const struct lkb_blob *tb = lkb_tree_get(&kt, "kernel.tar")->blob;
    cr_assert_not_null(tb->file);
    for (int r = 0; r < 2; r++) {
        struct lkb_tree *t = r ? &ranges : &copies;
        lkb_tree_init(t, 0);
        a = archive_read_new();
        archive_read_support_format_all(a);
        archive_read_support_filter_all(a);
        cr_assert_eq(archive_read_open_memory(a, tb->data, tb->size), ARCHIVE_OK);
        cr_assert_eq(r ? lkb_layer_apply_file(t, a, tb->file, tb->off, "kernel.tar", &err)
                       : lkb_layer_apply(t, a, "kernel.tar", &err), 0, "%s", err.msg);
        archive_read_free(a);
    }
    cr_assert_eq(copies.n, ranges.n);
    for (size_t i = 0; i < copies.n; i++) {
        const struct lkb_node *c = &copies.nodes[i], *r = &ranges.nodes[i];
        if (c->type != LKB_NODE_FILE)
            continue;
        cr_assert_eq(r->blob->file != NULL, !gzip, "%s", r->path);
        cr_assert_eq(c->blob->size, r->blob->size);
        cr_assert(!c->blob->size || !memcmp(c->blob->data, r->blob->data, c->blob->size),
                  "%s: the range holds other bytes", r->path);
    }
    lkb_tree_free(&copies);
    lkb_tree_free(&ranges);
    lkb_tree_free(&kt);
    free(inner);
    free(outer);
}

Test(unpacked, tar_in_layer) { inner_tar(false); }
Test(unpacked, gzipped_tar_in_layer) { inner_tar(true); }
