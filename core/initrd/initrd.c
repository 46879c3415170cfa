#include "initrd/initrd.h"

#include <archive.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "initrd/lz4legacy.h"
#include "initrd/pgzip.h"
#include "rootfs/archive_out.h"
#include "util/fs.h"

int lkb_initrd_compression_parse(const char *s, enum lkb_initrd_compression *out,
                                 struct lkb_error *err)
{
    static const char *const names[] = {"gzip", "zstd", "lz4", "none"};
    if (!s) {
        *out = LKB_INITRD_GZIP;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum lkb_initrd_compression)i;
            return 0;
        }
    return lkb_error_set(err, LKB_ERR_USAGE,
                         "unknown -initrd-compression \"%s\" (want gzip, zstd, lz4 or none)", s);
}

static bool skip_boot_files(const struct lkb_node *n, void *ctx)
{
    (void)ctx;
    return !strcmp(n->path, "boot/kernel") || !strcmp(n->path, "boot/cmdline") ||
           !strcmp(n->path, "boot/ucode.cpio");
}

/* Compressors of our own (see pgzip.c, lz4legacy.c) behind libarchive's
 * write callback. */
struct sink {
    struct lkb_lz4legacy *lz4;
    struct lkb_pgzip *gz;
    struct lkb_error err; /* why a write failed: libarchive only says "Write error" */
};

static la_ssize_t sink_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    struct sink *s = ctx;
    if (!s->lz4 && !s->gz) {
        archive_set_error(a, EIO, "compressor already closed");
        return -1;
    }
    int rc = s->lz4 ? lkb_lz4legacy_write(s->lz4, buf, len, &s->err)
                    : lkb_pgzip_write(s->gz, buf, len, &s->err);
    if (rc < 0) {
        archive_set_error(a, EIO, "%s", s->err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

static int sink_finish(struct sink *s, struct lkb_error *err)
{
    int rc = 0;
    if (s->lz4)
        rc = lkb_lz4legacy_finish(s->lz4, err);
    if (s->gz)
        rc = lkb_pgzip_finish(s->gz, err);
    s->lz4 = NULL;
    s->gz = NULL;
    return rc;
}

int lkb_initrd_write(struct lkb_tree *t, const char *path, enum lkb_initrd_compression comp,
                     const void *ucode, size_t ucode_len, int64_t mtime_clamp,
                     struct lkb_error *err)
{
    struct lkb_atomic_file f;
    if (lkb_atomic_file_open(&f, path, 0644, err) < 0)
        return -1;
    /* The kernel takes an uncompressed microcode cpio followed by the
     * compressed root archive. */
    if (ucode_len && lkb_fs_write_all(f.fd, ucode, ucode_len, path, err) < 0) {
        lkb_atomic_file_abort(&f);
        return -1;
    }
    struct archive *a = archive_write_new();
    int rc = archive_write_set_format_cpio_newc(a);
    switch (comp) {
    case LKB_INITRD_GZIP: /* parallel, by pgzip.c through the callback */
        break;
    case LKB_INITRD_ZSTD:
        rc |= archive_write_add_filter_zstd(a);
        break;
    case LKB_INITRD_LZ4: /* compressed by lz4legacy.c through the callback */
        break;
    case LKB_INITRD_NONE:
        break;
    }
    /* Pad only to 512 (the trailer block), not libarchive's 10240 default. */
    rc |= archive_write_set_bytes_in_last_block(a, 1);
    struct sink sink = {0};
    int opened;
    if (comp == LKB_INITRD_LZ4 || comp == LKB_INITRD_GZIP) {
        if (comp == LKB_INITRD_LZ4)
            sink.lz4 = lkb_lz4legacy_new(f.fd);
        else
            sink.gz = lkb_pgzip_new(f.fd, 0, Z_DEFAULT_COMPRESSION);
        opened = sink.lz4 || sink.gz ? archive_write_open2(a, &sink, NULL, sink_cb, NULL, NULL)
                                     : ARCHIVE_FATAL;
    } else {
        opened = archive_write_open_fd(a, f.fd);
    }
    if (rc != ARCHIVE_OK || opened != ARCHIVE_OK) {
        struct lkb_error ignored;
        sink_finish(&sink, &ignored);
        lkb_error_set(err, LKB_ERR_BUILD, "initrd %s: %s", path, archive_error_string(a));
        archive_write_free(a);
        lkb_atomic_file_abort(&f);
        return -1;
    }
    int failed = lkb_tree_write_archive(t, a, skip_boot_files, NULL, mtime_clamp, err) < 0;
    if (!failed && archive_write_close(a) != ARCHIVE_OK)
        failed = lkb_error_set(err, LKB_ERR_BUILD, "%s",
                               archive_error_string(a) ? archive_error_string(a) : "close failed");
    /* Free the archive while the sink is still alive: after a failure,
     * archive_write_free() closes, and closing flushes through sink_cb. */
    archive_write_free(a);
    struct lkb_error ignored;
    if (sink_finish(&sink, failed ? &ignored : err) < 0)
        failed = 1;
    if (failed) {
        if (sink.err.kind != LKB_ERR_NONE)
            *err = sink.err;
        lkb_error_prefix(err, "initrd %s: ", path);
        lkb_atomic_file_abort(&f);
        return -1;
    }
    return lkb_atomic_file_commit(&f, err);
}
