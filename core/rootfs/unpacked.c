#define _GNU_SOURCE /* asprintf, fallocate */
#include "rootfs/unpacked.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/digest.h"
#include "rootfs/image.h"
#include "rootfs/lrudir.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/stamp.h"
#include "util/workq.h"


static char *unpacked_dir; /* CACHE/unpacked, NULL when not used */
static struct lkb_unpacked_stats stats;
/* What lkb_unpacked_prepare did to a layer lacking its unpacked file: made
 * it (the layout's first open counts it as made, not read), or could not
 * keep it (the layout streams the layer without trying again). */
static struct prepared {
    char *id;
    bool made;
} *prepared;
static size_t n_prepared;

/* A gzip layer up to this size (uncompressed) is inflated by libdeflate in
 * one call, straight into the mapped unpacked file (three times zlib's
 * speed); a larger one streams through libarchive so the mappings stay
 * bounded. Both mappings are page cache, not heap: they count in RSS while
 * a layer is made (a cold build), the kernel can write them back. A kernel
 * image's modules layer is typically 50-100 MB. */
#define WHOLE_MAX ((uint64_t)128 << 20)

int lkb_unpacked_use(const char *cache_dir, struct lkb_error *err)
{
    free(unpacked_dir);
    unpacked_dir = NULL;
    for (size_t i = 0; i < n_prepared; i++)
        free(prepared[i].id);
    free(prepared);
    prepared = NULL;
    n_prepared = 0;
    if (cache_dir && !(unpacked_dir = lkb_fs_join(cache_dir, "unpacked")))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return 0;
}

void lkb_unpacked_stats(struct lkb_unpacked_stats *out) { *out = stats; }

void lkb_unpacked_count_streamed(void) { stats.streamed++; }

/* The image config's rootfs.diff_ids[i], when it is a sha256 digest and
 * the list matches the layers. */
static const char *diff_id(const struct lkb_image *img, size_t i)
{
    json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
    if (json_array_size(ids) != img->n_layers)
        return NULL;
    const char *id = json_string_value(json_array_get(ids, i));
    return id && lkb_digest_valid(id) ? id : NULL;
}

/* 1 when path holds the layer: its stamp matches, or it hashes to id (then
 * the stamp is written again). A file that does not is removed. */
static int check(const char *path, const char *stamp_path, const char *id)
{
    struct lkb_error err;
    if (access(path, F_OK) != 0)
        return 0;
    if (lkb_stamp_matches(path, stamp_path)) {
        utimensat(AT_FDCWD, stamp_path, NULL, 0); /* recently used, for trim */
        return 1;
    }
    char got[LKB_DIGEST_MAX];
    uint64_t size;
    if (lkb_digest_file(path, got, &size, &err) == 0 && strcmp(got, id) == 0 &&
        lkb_stamp_write(path, stamp_path, &err) == 0)
        return 1;
    lkb_debug("unpacked layer %s does not match its name: made again", path);
    unlink(path);
    unlink(stamp_path);
    return 0;
}

/* Inflate in, a single-member gzip blob of at most WHOLE_MAX bytes, into fd
 * (the empty temporary file) with libdeflate, hashing the result into got.
 * 1 when the blob is not such a layer (not gzip, larger, several members,
 * a size that does not match its trailer): fd is left empty for the
 * streaming path, which also reports bad data in libarchive's words. */
static int inflate_whole(int in, int fd, uint64_t max_bytes, char got[LKB_DIGEST_MAX],
                         struct lkb_error *err)
{
    struct stat st;
    if (fstat(in, &st) < 0 || st.st_size < 18)
        return 1;
    size_t in_len = (size_t)st.st_size;
    const unsigned char *src = mmap(NULL, in_len, PROT_READ, MAP_PRIVATE, in, 0);
    if (src == MAP_FAILED)
        return 1;
    /* ISIZE, the trailer's size modulo 2^32: a wrong guess (a larger or
     * multi-member stream) makes libdeflate stop short, and the layer is
     * streamed instead. The blocks are allocated before the file is mapped:
     * a full disk must fail here (then the streaming path reports it), not
     * as SIGBUS on a page written through the mapping. */
    const unsigned char *t = src + in_len - 4;
    uint64_t size = (uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 |
                    (uint64_t)t[3] << 24;
    int rc = 1;
    unsigned char *dst = MAP_FAILED;
    if (src[0] == 0x1f && src[1] == 0x8b && src[2] == 8 && size > 0 && size <= WHOLE_MAX &&
        size <= max_bytes && fallocate(fd, 0, 0, (off_t)size) == 0)
        dst = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct libdeflate_decompressor *d = dst != MAP_FAILED ? libdeflate_alloc_decompressor() : NULL;
    size_t used_in = 0, used_out = 0;
    if (d && libdeflate_gzip_decompress_ex(d, src, in_len, dst, (size_t)size, &used_in,
                                           &used_out) == LIBDEFLATE_SUCCESS &&
        used_in == in_len && used_out == size) {
        struct lkb_sha256 h;
        rc = lkb_sha256_init(&h, err);
        if (rc == 0) {
            lkb_sha256_update(&h, dst, (size_t)size);
            lkb_sha256_final(&h, got);
        }
    }
    libdeflate_free_decompressor(d);
    if (dst != MAP_FAILED)
        munmap(dst, (size_t)size);
    munmap((void *)src, in_len);
    if (rc == 1 && ftruncate(fd, 0) < 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "truncating an unpacked layer");
    return rc;
}

/* Inflate layer i into path: a temporary file hashed while written, renamed
 * into place only when it matches id. 1 (nothing made) when it cannot be
 * kept. */
static int make(struct lkb_image *img, size_t i, const char *id, const char *path,
                const char *stamp_path, uint64_t max_bytes, struct lkb_error *err)
{
    /* The compressed blob is verified first (as for a streamed layer). */
    struct archive *a;
    if (lkb_oci_layer_open(img, i, &a, err) < 0)
        return -1;
    archive_read_free(a);
    struct lkb_error why;
    lkb_error_clear(&why);
    if (lkb_fs_mkdir_p(unpacked_dir, 0755, &why) < 0) {
        lkb_debug("unpacked layers not kept: %s", why.msg);
        return 1;
    }
    char *tmp = NULL;
    if (asprintf(&tmp, "%s/.tmp-XXXXXX", unpacked_dir) < 0)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lkb_debug("unpacked layers not kept: %s: %s", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    char got[LKB_DIGEST_MAX] = "";
    int in = open(img->layers[i].path, O_RDONLY | O_CLOEXEC);
    int whole = in < 0 ? 1 : inflate_whole(in, fd, max_bytes, got, &why);
    if (in >= 0)
        close(in);
    /* Otherwise libarchive's raw format: the decompressed stream, whatever
     * the compression (gzip, zstd, none). */
    a = whole == 1 ? archive_read_new() : NULL;
    struct lkb_sha256 h = {0};
    unsigned char *buf = whole == 1 ? malloc(1 << 16) : NULL;
    struct archive_entry *e;
    uint64_t total = 0;
    int rc = whole < 0 ? -1 : whole == 0 ? 0
             : !a || !buf ? lkb_error_set(&why, LKB_ERR_INTERNAL, "out of memory") : 0;
    if (rc == 0 && whole == 1) {
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        if (archive_read_open_filename(a, img->layers[i].path, 1 << 16) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "%s", archive_error_string(a));
    }
    if (rc == 0 && whole == 1)
        rc = lkb_sha256_init(&h, &why);
    while (rc == 0 && whole == 1) {
        la_ssize_t r = archive_read_data(a, buf, 1 << 16);
        if (r < 0)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "%s", archive_error_string(a));
        if (r <= 0)
            break;
        total += (uint64_t)r;
        if (total > max_bytes)
            rc = lkb_error_set(&why, LKB_ERR_BUILD, "more than %" PRIu64 " bytes", max_bytes);
        else
            lkb_sha256_update(&h, buf, (size_t)r);
        if (rc == 0)
            rc = lkb_fs_write_all(fd, buf, (size_t)r, tmp, &why);
    }
    if (rc == 0 && whole == 1)
        lkb_sha256_final(&h, got);
    else if (whole == 1)
        lkb_sha256_discard(&h);
    if (rc == 0 && strcmp(got, id) != 0)
        rc = lkb_error_set(&why, LKB_ERR_BUILD, "its content hashes to %s", got);
    free(buf);
    archive_read_free(a);
    if (rc == 0 && fchmod(fd, 0644) < 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "%s", tmp);
    if (close(fd) < 0 && rc == 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "writing %s", tmp);
    /* No fsync: a file cut short by a crash fails its stamp and its hash. */
    if (rc == 0 && rename(tmp, path) < 0)
        rc = lkb_error_errno(&why, LKB_ERR_IO, errno, "renaming into %s", path);
    if (rc == 0 && (rc = lkb_stamp_write(path, stamp_path, &why)) < 0)
        unlink(path);
    if (rc < 0) {
        unlink(tmp);
        lkb_debug("layer %s of %s not kept unpacked: %s", img->layers[i].digest, img->ref,
                  why.msg);
    }
    free(tmp);
    return rc < 0 ? 1 : 0;
}

int lkb_unpacked_open(struct lkb_image *img, size_t i, uint64_t max_bytes,
                      struct lkb_blob_file **file, struct archive **a, struct lkb_error *err)
{
    *file = NULL;
    *a = NULL;
    const char *id = unpacked_dir ? diff_id(img, i) : NULL;
    if (!id)
        return 1;
    char *path = lkb_fs_join(unpacked_dir, id + 7), *stamp = NULL;
    if (!path || asprintf(&stamp, "%s.ok", path) < 0) {
        free(path);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    /* Prepared: the entry is used once (a layer two images share is read
     * the second time). */
    int rc = 0, made = 0, tried = 0;
    for (size_t k = 0; k < n_prepared && !tried; k++)
        if ((tried = strcmp(prepared[k].id, id) == 0)) {
            rc = prepared[k].made ? 0 : 1;
            made = prepared[k].made;
            free(prepared[k].id);
            prepared[k] = prepared[--n_prepared];
        }
    if (!tried && !check(path, stamp, id)) {
        rc = make(img, i, id, path, stamp, max_bytes, err);
        made = 1;
    }
    struct lkb_error why;
    if (rc == 0 && lkb_blob_file_map(path, id, file, &why) < 0) {
        lkb_debug("unpacked layer not used: %s", why.msg);
        rc = 1;
    }
    if (rc == 0) {
        /* Small reads: only the headers are wanted, data is skipped by
         * seeking. */
        *a = archive_read_new();
        if (!*a) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        } else {
            archive_read_support_format_tar(*a);
            if (archive_read_open_filename(*a, path, 16384) != ARCHIVE_OK) {
                lkb_debug("unpacked layer not used: %s", archive_error_string(*a));
                rc = 1;
            }
        }
        if (rc != 0) {
            archive_read_free(*a);
            *a = NULL;
            lkb_blob_file_unref(*file);
            *file = NULL;
        }
    }
    if (rc == 0 && made)
        stats.made++;
    else if (rc == 0)
        stats.reused++;
    free(stamp);
    free(path);
    return rc;
}

struct prep_job {
    struct lkb_work w;
    struct lkb_image *img;
    size_t i;
    const char *id;
    int rc; /* 0 made, 1 not kept, 2 there already, -1 failed */
    struct lkb_error err;
};

static void prep_run(void *arg)
{
    struct prep_job *j = arg;
    char *path = lkb_fs_join(unpacked_dir, j->id + 7), *stamp = NULL;
    j->rc = 2;
    if (path && asprintf(&stamp, "%s.ok", path) >= 0 && !check(path, stamp, j->id))
        j->rc = make(j->img, j->i, j->id, path, stamp,
                     lkb_rootfs_layer_limit(j->img->layers[j->i].size), &j->err);
    else if (!path || !stamp)
        j->rc = -1;
    free(stamp);
    free(path);
}

static int by_size_desc(const void *a, const void *b)
{
    const struct prep_job *x = a, *y = b;
    int64_t sx = x->img->layers[x->i].size, sy = y->img->layers[y->i].size;
    return sx > sy ? -1 : sx < sy;
}

int lkb_unpacked_prepare(struct lkb_image *const *imgs, size_t n_imgs)
{
    if (!unpacked_dir)
        return 0;
    size_t n = 0, cap = 0;
    struct prep_job *jobs = NULL;
    for (size_t k = 0; k < n_imgs; k++)
        for (size_t i = 0; imgs[k] && i < imgs[k]->n_layers; i++) {
            const char *id = diff_id(imgs[k], i);
            size_t j = 0;
            while (id && j < n && strcmp(jobs[j].id, id) != 0)
                j++;
            if (!id || j < n)
                continue; /* no diff_id, or a layer two images share: once */
            if (n == cap) {
                struct prep_job *m = realloc(jobs, (cap = cap ? cap * 2 : 16) * sizeof *m);
                if (!m) {
                    free(jobs);
                    return -1;
                }
                jobs = m;
            }
            jobs[n++] = (struct prep_job){.img = imgs[k], .i = i, .id = id};
        }
    /* Largest first: the biggest layer is the longest job, and starting it
     * last would leave the other cores idle while it runs. */
    if (n > 1)
        qsort(jobs, n, sizeof *jobs, by_size_desc);
    struct lkb_workq *q = n > 1 ? lkb_workq_new(lkb_workq_cpus(8)) : NULL;
    for (size_t j = 0; j < n; j++) {
        jobs[j].w = (struct lkb_work){.fn = prep_run, .arg = &jobs[j]};
        if (q)
            lkb_workq_submit(q, &jobs[j].w);
        else
            prep_run(&jobs[j]);
    }
    int rc = 0;
    for (size_t j = 0; j < n; j++) {
        if (q)
            lkb_workq_wait(q, &jobs[j].w);
        /* A failed one (a corrupt blob) is left to the layout, which
         * reports it in its order. */
        if (jobs[j].rc != 0 && jobs[j].rc != 1)
            continue;
        char *id = strdup(jobs[j].id);
        struct prepared *m = id ? realloc(prepared, (n_prepared + 1) * sizeof *m) : NULL;
        if (m) {
            prepared = m;
            prepared[n_prepared++] = (struct prepared){id, jobs[j].rc == 0};
        } else {
            free(id);
            rc = -1;
        }
    }
    lkb_workq_free(q);
    free(jobs);
    return rc;
}

/* Early unpacking: a layer blob handed over by the pull as soon as it is
 * downloaded and verified is inflated while the other blobs download. No
 * image config is needed: the unpacked file is named by the hash of what
 * it holds, which is the diff_id of any layer it is. */
struct early_job {
    struct lkb_work w;
    int fd;                   /* the blob, owned */
    char got[LKB_DIGEST_MAX]; /* the unpacked file it made, or "" */
    struct early_job *next;
};

struct lkb_unpacked_early {
    struct lkb_workq *q; /* made with the first layer: most builds pull nothing */
    struct early_job *jobs;
    int n;
};

static void early_run(void *arg)
{
    struct early_job *j = arg;
    struct stat st;
    char *tmp = NULL, *path = NULL, *stamp = NULL;
    struct lkb_error why;
    lkb_error_clear(&why);
    int fd = -1;
    if (fstat(j->fd, &st) < 0 || lkb_fs_mkdir_p(unpacked_dir, 0755, &why) < 0 ||
        asprintf(&tmp, "%s/.tmp-XXXXXX", unpacked_dir) < 0 || (fd = mkstemp(tmp)) < 0)
        goto out;
    char got[LKB_DIGEST_MAX] = "";
    if (inflate_whole(j->fd, fd, lkb_rootfs_layer_limit(st.st_size), got, &why) != 0)
        goto out;
    path = lkb_fs_join(unpacked_dir, got + 7);
    if (!path || asprintf(&stamp, "%s.ok", path) < 0 || check(path, stamp, got))
        goto out; /* there already (two blobs of one layer) */
    bool ok = fchmod(fd, 0644) == 0;
    ok = close(fd) == 0 && ok;
    fd = -1;
    if (ok && rename(tmp, path) == 0 && lkb_stamp_write(path, stamp, &why) == 0)
        memcpy(j->got, got, sizeof got);
out:
    if (fd >= 0)
        close(fd);
    if (tmp && !j->got[0])
        unlink(tmp);
    close(j->fd);
    free(tmp);
    free(path);
    free(stamp);
}

struct lkb_unpacked_early *lkb_unpacked_early_new(void)
{
    if (!unpacked_dir)
        return NULL;
    return calloc(1, sizeof(struct lkb_unpacked_early));
}

void lkb_unpacked_early_layer(void *ctx, const char *digest, int fd)
{
    (void)digest;
    struct lkb_unpacked_early *e = ctx;
    struct early_job *j = NULL;
    if ((!e->q && !(e->q = lkb_workq_new(lkb_workq_cpus(8)))) || !(j = calloc(1, sizeof *j))) {
        close(fd); /* only a speed-up: the layout makes the layer */
        return;
    }
    e->n++;
    j->fd = fd;
    /* Larger first among those waiting (downloads end in any order). */
    struct stat st;
    j->w = (struct lkb_work){.fn = early_run, .arg = j,
                             .cost = fstat(fd, &st) == 0 ? (unsigned long long)st.st_size : 0};
    j->next = e->jobs;
    e->jobs = j;
    lkb_workq_submit(e->q, &j->w);
}

int lkb_unpacked_early_finish(struct lkb_unpacked_early *e)
{
    if (!e)
        return 0;
    int rc = 0;
    for (struct early_job *j = e->jobs, *next; j; j = next) {
        next = j->next;
        lkb_workq_wait(e->q, &j->w);
        char *id = j->got[0] ? strdup(j->got) : NULL;
        struct prepared *m = id ? realloc(prepared, (n_prepared + 1) * sizeof *m) : NULL;
        if (m) {
            prepared = m;
            prepared[n_prepared++] = (struct prepared){id, true};
        } else if (j->got[0]) {
            free(id);
            rc = -1;
        }
        free(j);
    }
    if (e->q)
        lkb_workq_free(e->q);
    if (rc == 0)
        rc = e->n;
    free(e);
    return rc;
}

int lkb_unpacked_trim(const char *cache_dir, struct lkb_error *err)
{
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_lrudir_trim(dir, lkb_lrudir_bound("LKB_UNPACKED_CACHE_MAX",
                                                   LKB_UNPACKED_MAX_BYTES), err);
    free(dir);
    return rc;
}

int lkb_unpacked_clean(const char *cache_dir, size_t *n, uint64_t *bytes, struct lkb_error *err)
{
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_lrudir_clean(dir, n, bytes, err);
    free(dir);
    return rc;
}

static int is_layer(const char *name)
{
    return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

int lkb_unpacked_verify(const char *cache_dir, size_t *checked, size_t *removed,
                        struct lkb_error *err)
{
    *checked = *removed = 0;
    char *dir = lkb_fs_join(cache_dir, "unpacked");
    char **names = NULL;
    size_t n = 0;
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (lkb_fs_list_dir(dir, is_layer, &names, &n, err) < 0) {
        free(dir);
        return errno == ENOENT ? 0 : -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = lkb_fs_join(dir, names[i]), *stamp = NULL, id[LKB_DIGEST_MAX], got[LKB_DIGEST_MAX];
        uint64_t size;
        struct lkb_error why;
        if (!path || asprintf(&stamp, "%s.ok", path) < 0) {
            free(path);
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        snprintf(id, sizeof id, "sha256:%s", names[i]);
        (*checked)++;
        if (lkb_digest_file(path, got, &size, &why) < 0 || strcmp(got, id) != 0) {
            unlink(path);
            unlink(stamp);
            (*removed)++;
        } else if (lkb_stamp_write(path, stamp, &why) < 0) {
            unlink(stamp); /* hashed again on its next use */
        }
        free(stamp);
        free(path);
    }
    lkb_fs_names_free(names, n);
    free(dir);
    return rc;
}
