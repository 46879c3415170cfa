#define _GNU_SOURCE /* asprintf */
/* Making an unpacked layer: whatever the blob's form - one gzip member
 * (inflated whole by libdeflate), several members or an uncompressed tar
 * (streamed through libarchive) - the file under CACHE/unpacked holds the
 * layer's tar byte for byte, made once by lkb_unpacked_prepare and then
 * opened as made; content that does not match its diff_id is not kept. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>

#include "oci/digest.h"
#include "rootfs/unpacked.h"
#include "util/fs.h"

static char *dir;

static void setup(void)
{
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-unpacked-make", &dir, &err), 0);
    cr_assert_eq(lkb_unpacked_use(dir, &err), 0);
}

static void teardown(void)
{
    struct lkb_error err;
    lkb_unpacked_use(NULL, NULL);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

TestSuite(unpacked_make, .init = setup, .fini = teardown);

/* A ustar archive: one 300 KiB file of varied bytes; *len its size. */
static unsigned char *layer_tar(size_t *len)
{
    size_t data = 300 * 1024, n = 512 + data + 1024;
    unsigned char *t = calloc(1, n);
    memcpy(t, "f", 1);
    memcpy(t + 100, "0000644", 7);
    memcpy(t + 108, "0000000", 7);
    memcpy(t + 116, "0000000", 7);
    snprintf((char *)t + 124, 12, "%011o", (unsigned)data);
    memcpy(t + 136, "00000000000", 11);
    t[156] = '0';
    memcpy(t + 257, "ustar\0" "00", 8);
    memset(t + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += t[i];
    snprintf((char *)t + 148, 8, "%06o", sum);
    for (size_t i = 0; i < data; i++)
        t[512 + i] = (unsigned char)((i * 31) ^ (i >> 9));
    *len = n;
    return t;
}

static size_t gzip(const unsigned char *in, size_t len, unsigned char *out, size_t cap)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
    size_t n = libdeflate_gzip_compress(c, in, len, out, cap);
    libdeflate_free_compressor(c);
    cr_assert_gt(n, 0);
    return n;
}

/* img (one layer) with diff_id id in its config: prepared, then opened
 * as the layout opens it; the stats around both. */
static int prepare_and_open(struct lkb_image *img, const char *id,
                            struct lkb_unpacked_stats *before, struct lkb_unpacked_stats *after,
                            struct lkb_blob_file **file, struct archive **a,
                            struct lkb_error *err)
{
    img->config = json_pack("{s:{s:[s]}}", "rootfs", "diff_ids", id);
    struct lkb_image *imgs[] = {img};
    lkb_unpacked_stats(before);
    cr_assert_eq(lkb_unpacked_prepare(imgs, 1), 0);
    int rc = lkb_unpacked_open(img, 0, 1 << 30, file, a, err);
    lkb_unpacked_stats(after);
    return rc;
}

/* Build an image of one layer from blob bytes whose tar is tar, with
 * diff_id declared (the tar's own unless wrong), prepare and open it. */
static void check_layer(const unsigned char *blob, size_t blob_len, const unsigned char *tar,
                        size_t tar_len, bool wrong_id)
{
    struct lkb_error err;
    char *path = lkb_fs_join(dir, "blob");
    cr_assert_eq(lkb_fs_write_atomic(path, blob, blob_len, 0644, &err), 0, "%s", err.msg);
    char digest[LKB_DIGEST_MAX], id[LKB_DIGEST_MAX];
    cr_assert_eq(lkb_digest_bytes(blob, blob_len, digest, &err), 0);
    cr_assert_eq(lkb_digest_bytes(tar, tar_len, id, &err), 0);
    if (wrong_id)
        id[7] = id[7] == '0' ? '1' : '0';
    struct lkb_layer layer = {.digest = digest, .size = (int64_t)blob_len, .path = path};
    struct lkb_image img = {.ref = "test", .layers = &layer, .n_layers = 1};
    struct lkb_unpacked_stats before, after;
    struct lkb_blob_file *file = NULL;
    struct archive *a = NULL;
    int rc = prepare_and_open(&img, id, &before, &after, &file, &a, &err);
    char *unpacked = lkb_fs_join(dir, "unpacked"), *made = NULL;
    cr_assert(asprintf(&made, "%s/%s", unpacked, id + 7) > 0);
    if (wrong_id) {
        cr_assert_eq(rc, 1, "content that is not its diff_id was used");
        cr_assert_neq(access(made, F_OK), 0, "a mismatching unpacked layer was kept");
    } else {
        cr_assert_eq(rc, 0, "%s", err.msg);
        cr_assert_eq(after.made, before.made + 1);
        cr_assert_eq(after.reused, before.reused);
        char *got;
        size_t got_len;
        cr_assert_eq(lkb_fs_read_file(made, &got, &got_len, &err), 0, "%s", err.msg);
        cr_assert_eq(got_len, tar_len);
        cr_assert_eq(memcmp(got, tar, tar_len), 0, "unpacked bytes differ from the tar");
        free(got);
    }
    /* No temporary file left next to what was kept. */
    char **names;
    size_t n;
    cr_assert_eq(lkb_fs_list_dir(unpacked, NULL, &names, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_neq(strncmp(names[i], ".tmp-", 5), 0, "left behind: %s", names[i]);
    lkb_fs_names_free(names, n);
    archive_read_free(a);
    lkb_blob_file_unref(file);
    json_decref(img.config);
    free(made);
    free(unpacked);
    free(path);
}

/* The layer as one gzip member, declared with its own diff_id or not. */
static void check_one_member(bool wrong_id)
{
    size_t len;
    unsigned char *tar = layer_tar(&len), *gz = malloc(len + 4096);
    check_layer(gz, gzip(tar, len, gz, len + 4096), tar, len, wrong_id);
    free(gz);
    free(tar);
}

Test(unpacked_make, one_gzip_member_inflated_whole) { check_one_member(false); }

Test(unpacked_make, two_gzip_members_streamed)
{
    size_t len;
    unsigned char *tar = layer_tar(&len), *gz = malloc(2 * len + 8192);
    size_t a = gzip(tar, len / 2, gz, len + 4096);
    size_t b = gzip(tar + len / 2, len - len / 2, gz + a, len + 4096);
    check_layer(gz, a + b, tar, len, false);
    free(gz);
    free(tar);
}

Test(unpacked_make, uncompressed_tar_streamed)
{
    size_t len;
    unsigned char *tar = layer_tar(&len);
    check_layer(tar, len, tar, len, false);
    free(tar);
}

Test(unpacked_make, content_not_its_diff_id_is_not_kept) { check_one_member(true); }

/* Early unpacking (while the pull downloads): a gzip layer handed over as
 * an open file is made under the hash of its tar, and the layout then
 * opens it as made; a blob that is not one gzip member (here the bare tar,
 * and a corrupt stream) is left to lkb_unpacked_prepare, with no file or
 * temporary left behind. */
static int blob_fd(const unsigned char *blob, size_t len)
{
    struct lkb_error err;
    char *path = lkb_fs_join(dir, "early-blob");
    cr_assert_eq(lkb_fs_write_atomic(path, blob, len, 0644, &err), 0, "%s", err.msg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    unlink(path); /* the pull may store or drop the blob meanwhile */
    free(path);
    return fd;
}

static size_t unpacked_names(char ***names)
{
    struct lkb_error err;
    char *unpacked = lkb_fs_join(dir, "unpacked");
    size_t n = 0;
    *names = NULL;
    if (access(unpacked, F_OK) == 0)
        cr_assert_eq(lkb_fs_list_dir(unpacked, NULL, names, &n, &err), 0);
    free(unpacked);
    return n;
}

Test(unpacked_make, early_layers_made_while_pulling)
{
    size_t len;
    unsigned char *tar = layer_tar(&len), *gz = malloc(len + 4096);
    size_t gz_len = gzip(tar, len, gz, len + 4096);
    unsigned char *bad = malloc(gz_len);
    memcpy(bad, gz, gz_len);
    bad[gz_len / 2] ^= 0x55;

    struct lkb_unpacked_early *e = lkb_unpacked_early_new();
    cr_assert(e);
    lkb_unpacked_early_layer(e, "sha256:unused", blob_fd(tar, len));
    lkb_unpacked_early_layer(e, "sha256:unused", blob_fd(bad, gz_len));
    cr_assert_eq(lkb_unpacked_early_finish(e), 2, "two layers handed over");
    char **names;
    size_t n = unpacked_names(&names);
    cr_expect_eq(n, 0, "made from a blob that is not one good gzip member: %s",
                 n ? names[0] : "");
    lkb_fs_names_free(names, n);

    e = lkb_unpacked_early_new();
    lkb_unpacked_early_layer(e, "sha256:unused", blob_fd(gz, gz_len));
    cr_assert_eq(lkb_unpacked_early_finish(e), 1);
    cr_assert_eq(lkb_unpacked_early_finish(lkb_unpacked_early_new()), 0, "none handed over");
    char id[LKB_DIGEST_MAX];
    struct lkb_error err;
    cr_assert_eq(lkb_digest_bytes(tar, len, id, &err), 0);
    n = unpacked_names(&names);
    cr_assert_eq(n, 2, "the layer and its stamp");
    cr_expect_str_eq(names[0], id + 7);
    cr_expect(strcmp(names[1], id + 7) > 0 && strstr(names[1], ".ok"), "%s", names[1]);
    lkb_fs_names_free(names, n);

    /* The layout finds it made (counted as made, not read from before). */
    char *path = lkb_fs_join(dir, "blob");
    cr_assert_eq(lkb_fs_write_atomic(path, gz, gz_len, 0644, &err), 0, "%s", err.msg);
    char digest[LKB_DIGEST_MAX];
    cr_assert_eq(lkb_digest_bytes(gz, gz_len, digest, &err), 0);
    struct lkb_layer layer = {.digest = digest, .size = (int64_t)gz_len, .path = path};
    struct lkb_image img = {.ref = "test", .layers = &layer, .n_layers = 1};
    struct lkb_unpacked_stats before, after;
    struct lkb_blob_file *file = NULL;
    struct archive *a = NULL;
    cr_assert_eq(prepare_and_open(&img, id, &before, &after, &file, &a, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(after.made, before.made + 1);
    cr_expect_eq(after.reused, before.reused);
    cr_expect_eq(after.streamed, before.streamed);
    archive_read_free(a);
    lkb_blob_file_unref(file);
    json_decref(img.config);
    free(path);
    free(bad);
    free(gz);
    free(tar);
}
