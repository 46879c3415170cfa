/* Blobs entering the cache: a temporary file in ingest/, hashed as it is
 * written, verified, made durable, then renamed into blobs/ (so a crash
 * never leaves a wrong blob under its digest).
 *
 * A pull settles its blobs as a batch: each one's writeback starts when it
 * is verified (sync_file_range), so the disk writes while the other
 * downloads go on, and the batch then waits for all of them, renames them
 * and syncs blobs/ once. One fsync per blob plus one of the directory, in
 * the transfer loop, used to cost a cold build a third of its fetch. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/fs.h"

/* At most this many verified blobs wait in a batch (each holds a file
 * descriptor); the batch settles when it is full. */
#define BATCH_MAX 64

int oci_ingest_open(struct lkb_cache *c, struct oci_ingest *in, struct lkb_error *err)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->tmp_path = lkb_strf("%s/blob-XXXXXX", c->ingest);
    if (!in->tmp_path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    in->fd = mkstemp(in->tmp_path);
    if (in->fd < 0) {
        int e = errno;
        free(in->tmp_path);
        in->tmp_path = NULL;
        return lkb_error_errno(err, LKB_ERR_IO, e, "creating a temporary file in %s", c->ingest);
    }
    if (lkb_sha256_init(&in->hash, err) < 0) {
        oci_ingest_abort(in);
        return -1;
    }
    return 0;
}

int oci_ingest_write(struct oci_ingest *in, const void *data, size_t len, struct lkb_error *err)
{
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(in->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lkb_error_errno(err, LKB_ERR_IO, errno, "writing %s", in->tmp_path);
        p += n;
        left -= (size_t)n;
    }
    lkb_sha256_update(&in->hash, data, len);
    in->written += len;
    return 0;
}

void oci_ingest_abort(struct oci_ingest *in)
{
    if (in->fd >= 0)
        close(in->fd);
    if (in->tmp_path)
        unlink(in->tmp_path);
    free(in->tmp_path);
    lkb_sha256_discard(&in->hash);
    memset(in, 0, sizeof *in);
    in->fd = -1;
}

/* Size and digest; in->digest is what the content hashes to. */
static int check(struct oci_ingest *in, const char *digest, int64_t size, struct lkb_error *err)
{
    lkb_sha256_final(&in->hash, in->digest);
    if (!digest)
        digest = in->digest;
    if (size >= 0 && in->written != (uint64_t)size)
        return lkb_error_set(err, LKB_ERR_FETCH, "blob %s: got %llu bytes, expected %lld",
                             digest, (unsigned long long)in->written, (long long)size);
    if (strcmp(in->digest, digest) != 0)
        return lkb_error_set(err, LKB_ERR_FETCH, "blob %s: digest mismatch, content hashes to %s",
                             digest, in->digest);
    return 0;
}

/* The verified temp file's data on disk, then renamed to its digest. */
static int store(struct lkb_cache *c, struct oci_ingest *in, struct lkb_error *err)
{
    if (fdatasync(in->fd) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "fsync %s", in->tmp_path);
    char *dst;
    if (oci_blob_own_path(c, in->digest, &dst, err) < 0)
        return -1;
    if (fchmod(in->fd, 0644) < 0 || rename(in->tmp_path, dst) < 0) {
        lkb_error_errno(err, LKB_ERR_IO, errno, "storing blob %s", dst);
        free(dst);
        return -1;
    }
    oci_blob_stamp(c, in->digest, dst); /* hashed on the way in */
    free(dst);
    close(in->fd);
    free(in->tmp_path);
    in->fd = -1;
    in->tmp_path = NULL;
    return 0;
}

/* Make the renames durable before index.json can point at the blobs. */
static void sync_blobs_dir(struct lkb_cache *c)
{
    int dfd = open(c->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int oci_ingest_commit(struct lkb_cache *c, struct oci_ingest *in, const char *digest,
                      int64_t size, struct lkb_error *err)
{
    if (check(in, digest, size, err) < 0 || store(c, in, err) < 0) {
        oci_ingest_abort(in);
        return -1;
    }
    sync_blobs_dir(c); /* in keeps only its digest: store closed and freed the rest */
    return 0;
}

int oci_ingest_finish(struct lkb_cache *c, struct oci_ingest *in, const char *digest,
                      int64_t size, struct oci_ingest_batch *b, struct lkb_error *err)
{
    if (!b)
        return oci_ingest_commit(c, in, digest, size, err);
    if (check(in, digest, size, err) < 0) {
        oci_ingest_abort(in);
        return -1;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct oci_ingest *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            oci_ingest_abort(in);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        b->v = v;
        b->cap = cap;
    }
    /* Start writing now; only a hint, fdatasync in the commit is what
     * counts. */
    sync_file_range(in->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    b->v[b->n++] = *in;
    in->fd = -1; /* the batch owns the file now; in keeps its digest */
    in->tmp_path = NULL;
    return b->n >= BATCH_MAX ? oci_ingest_batch_commit(c, b, err) : 0;
}

int oci_ingest_batch_commit(struct lkb_cache *c, struct oci_ingest_batch *b,
                            struct lkb_error *err)
{
    int rc = 0;
    for (size_t i = 0; i < b->n; i++)
        if (rc == 0 && store(c, &b->v[i], err) < 0)
            rc = -1;
    if (b->n)
        sync_blobs_dir(c);
    oci_ingest_batch_abort(b); /* what is left after a failure */
    return rc;
}

void oci_ingest_batch_abort(struct oci_ingest_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        oci_ingest_abort(&b->v[i]);
    free(b->v);
    memset(b, 0, sizeof *b);
}

int oci_blob_put(struct lkb_cache *c, const char *digest, const void *data, size_t len,
                 struct oci_ingest_batch *b, struct lkb_error *err)
{
    if (oci_blob_present(c, digest, (int64_t)len))
        return 0;
    struct oci_ingest in;
    if (oci_ingest_open(c, &in, err) < 0)
        return -1;
    if (oci_ingest_write(&in, data, len, err) < 0) {
        oci_ingest_abort(&in);
        return -1;
    }
    return oci_ingest_finish(c, &in, digest, (int64_t)len, b, err);
}
