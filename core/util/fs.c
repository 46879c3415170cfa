#define _GNU_SOURCE /* nftw, O_TMPFILE, mkostemp, copy_file_range */
#include "util/fs.h"
#include "util/str.h"
#include "util/tempfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int lkb_fs_mkdir_p(const char *path, mode_t mode, struct lkb_error *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return lkb_error_set(err, LKB_ERR_IO, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return lkb_error_errno(err, LKB_ERR_IO, errno, "creating directory %s", buf);
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
        return lkb_error_set(err, LKB_ERR_IO, "%s exists and is not a directory", path);
    return 0;
}

int lkb_fs_make_temp_dir(const char *prefix, char **out, struct lkb_error *err)
{
    return lkb_fs_make_temp_dir_in(NULL, prefix, out, err);
}

int lkb_fs_make_temp_dir_in(const char *parent, const char *prefix, char **out,
                            struct lkb_error *err)
{
    const char *tmp = parent ? parent : getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char *stale = lkb_strf("%s.", prefix);
    if (stale)
        lkb_temp_remove_stale(tmp, stale); /* left by killed runs */
    free(stale);
    char *buf = lkb_strf("%s/%s.%ld-XXXXXX", tmp, prefix, (long)getpid());
    if (!buf)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (!mkdtemp(buf)) {
        free(buf);
        return lkb_error_errno(err, LKB_ERR_IO, errno, "creating temporary directory in %s", tmp);
    }
    lkb_temp_register(buf, true);
    *out = buf;
    return 0;
}

int lkb_fs_each_chunk(const char *src, lkb_fs_chunk_sink sink, void *ctx, struct lkb_error *err)
{
    int in = open(src, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (in < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", src);
    struct stat st;
    int rc = fstat(in, &st) < 0 || !S_ISREG(st.st_mode)
                 ? lkb_error_set(err, LKB_ERR_IO, "%s is not a regular file", src)
                 : 0;
    size_t step = 1 << 20;
    char *buf = rc == 0 ? malloc(step) : NULL;
    if (rc == 0 && !buf)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    while (rc == 0) {
        ssize_t r = read(in, buf, step);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "reading %s", src);
        if (r <= 0)
            break;
        rc = sink(ctx, buf, (size_t)r, err);
    }
    free(buf);
    close(in);
    return rc;
}

struct fd_sink {
    int fd;
    const char *what;
};

static int write_sink(void *ctx, const char *buf, size_t n, struct lkb_error *err)
{
    const struct fd_sink *s = ctx;
    return lkb_fs_write_all(s->fd, buf, n, s->what, err);
}

int lkb_fs_copy_range(int in, off_t off, int out, size_t len)
{
    loff_t at = off;
    for (size_t done = 0; done < len;) {
        ssize_t n = copy_file_range(in, &at, out, NULL, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 && done == 0 &&
            (n == 0 || errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
             errno == EOPNOTSUPP || errno == EBADF))
            return 1;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int lkb_fs_copy_into(int fd, const char *src, const char *dst, struct lkb_error *err)
{
    /* A large initrd need not pass through this process. */
    int in = open(src, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in >= 0 && fstat(in, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        int rc = lkb_fs_copy_range(in, 0, fd, (size_t)st.st_size), e = errno;
        close(in);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return lkb_error_errno(err, LKB_ERR_IO, e, "copying %s to %s", src, dst);
    } else if (in >= 0) {
        close(in);
    }
    struct fd_sink s = {fd, dst};
    return lkb_fs_each_chunk(src, write_sink, &s, err);
}

int lkb_fs_scratch_file(struct lkb_error *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* No O_TMPFILE on this file system: create and unlink at once. */
    char *p = lkb_strf("%s/lkb-scratch.%ld-XXXXXX", tmp, (long)getpid());
    if (!p)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    fd = mkostemp(p, O_CLOEXEC);
    int e = errno;
    if (fd >= 0)
        unlink(p);
    free(p);
    return fd >= 0 ? fd : lkb_error_errno(err, LKB_ERR_IO, e, "creating a scratch file in %s", tmp);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return rc < 0 && errno != ENOENT ? -1 : 0;
}

int lkb_fs_remove_tree(const char *path, struct lkb_error *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : lkb_error_errno(err, LKB_ERR_IO, errno, "removing %s", path);
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "removing %s", path);
    lkb_temp_forget(path);
    return 0;
}

/* Temporaries of path left by killed runs: "<path>.tmp-<dead pid>-...". */
static void sweep_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
    char *prefix = lkb_strf("%s.tmp-", slash ? slash + 1 : path);
    if (dir && prefix)
        lkb_temp_remove_stale(*dir ? dir : "/", prefix);
    free(dir);
    free(prefix);
}

int lkb_atomic_file_open(struct lkb_atomic_file *f, const char *path, mode_t mode,
                         struct lkb_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->final_path = strdup(path);
    f->tmp_path = lkb_strf("%s.tmp-%ld-XXXXXX", path, (long)getpid());
    if (!f->final_path || !f->tmp_path) {
        lkb_atomic_file_abort(f);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    sweep_stale(path);
    f->fd = mkstemp(f->tmp_path);
    if (f->fd >= 0)
        lkb_temp_register(f->tmp_path, false);
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp_path);
        f->tmp_path = NULL;
        lkb_atomic_file_abort(f);
        return lkb_error_errno(err, LKB_ERR_IO, e, "creating %s", path);
    }
    if (fchmod(f->fd, mode) < 0) {
        int e = errno;
        lkb_atomic_file_abort(f);
        return lkb_error_errno(err, LKB_ERR_IO, e, "chmod %s", path);
    }
    return 0;
}

int lkb_atomic_file_commit(struct lkb_atomic_file *f, struct lkb_error *err)
{
    const char *what = NULL;
    int e = 0;
    /* A file inside a build's scratch or staging directory is not
     * synced: scratch is thrown away, and outputs are renamed into place
     * unsynced (core/pipeline/staging.c). */
    if (!lkb_temp_inside(f->final_path) && fsync(f->fd) < 0)
        what = "writing", e = errno;
    else if (close(f->fd) < 0)
        what = "writing", e = errno, f->fd = -1;
    else if ((f->fd = -1, rename(f->tmp_path, f->final_path) < 0))
        what = "renaming into", e = errno;
    if (what) {
        lkb_error_errno(err, LKB_ERR_IO, e, "%s %s", what, f->final_path);
        lkb_atomic_file_abort(f);
        return -1;
    }
    lkb_temp_forget(f->tmp_path);
    free(f->tmp_path);
    free(f->final_path);
    f->tmp_path = f->final_path = NULL;
    return 0;
}

void lkb_atomic_file_abort(struct lkb_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp_path) {
        unlink(f->tmp_path);
        lkb_temp_forget(f->tmp_path);
    }
    free(f->tmp_path);
    free(f->final_path);
    f->fd = -1;
    f->tmp_path = f->final_path = NULL;
}

int lkb_fs_write_all(int fd, const void *data, size_t size, const char *what,
                     struct lkb_error *err)
{
    const char *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lkb_error_errno(err, LKB_ERR_IO, errno, "writing %s", what);
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

int lkb_fs_write_atomic(const char *path, const void *data, size_t size, mode_t mode,
                        struct lkb_error *err)
{
    struct lkb_atomic_file f;
    if (lkb_atomic_file_open(&f, path, mode, err) < 0)
        return -1;
    if (lkb_fs_write_all(f.fd, data, size, path, err) < 0) {
        lkb_atomic_file_abort(&f);
        return -1;
    }
    return lkb_atomic_file_commit(&f, err);
}

int lkb_fs_write_unsynced(const char *path, const void *a, size_t a_len, const void *b,
                          size_t b_len, struct lkb_error *err)
{
    const char *slash = strrchr(path, '/');
    char *tmp = slash ? lkb_strf("%.*s/.tmp-XXXXXX", (int)(slash - path), path)
                      : strdup(".tmp-XXXXXX");
    if (!tmp)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int fd = mkstemp(tmp);
    int rc = fd < 0 ? lkb_error_errno(err, LKB_ERR_IO, errno, "creating %s", tmp) : 0;
    if (rc == 0 && fchmod(fd, 0644) < 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "%s", tmp);
    if (rc == 0 && a_len)
        rc = lkb_fs_write_all(fd, a, a_len, tmp, err);
    if (rc == 0 && b_len)
        rc = lkb_fs_write_all(fd, b, b_len, tmp, err);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "writing %s", tmp);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "renaming into %s", path);
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int lkb_fs_read_file(const char *path, char **data, size_t *size, struct lkb_error *err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. Only regular
     * files are read: a FIFO or /dev/zero would block or never end. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "opening %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return lkb_error_errno(err, LKB_ERR_IO, e, "opening %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lkb_error_set(err, LKB_ERR_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size >= SIZE_MAX / 2) {
        close(fd);
        return lkb_error_set(err, LKB_ERR_IO, "%s is too large", path);
    }
    int rc = lkb_fs_read_fd(fd, (size_t)st.st_size, path, data, size, err);
    close(fd);
    return rc;
}

int lkb_fs_read_fd(int fd, size_t hint, const char *what, char **data, size_t *size,
                   struct lkb_error *err)
{
    /* Sized from the hint, grown as needed. */
    size_t cap = hint + 1, len = 0;
    char *buf = malloc(cap + 1);
    int e = 0;
    while (buf) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory reading %s", what);
    if (e) {
        free(buf);
        return lkb_error_errno(err, LKB_ERR_IO, e, "reading %s", what);
    }
    buf[len] = '\0';
    *data = buf;
    if (size)
        *size = len;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int lkb_fs_list_dir(const char *dir, int (*keep)(const char *name), char ***names, size_t *n,
                    struct lkb_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        lkb_error_errno(err, LKB_ERR_IO, e, "directory %s", dir);
        errno = e;
        return -1;
    }
    char **v = NULL;
    size_t len = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || (keep && !keep(de->d_name)))
            continue;
        char **nv = realloc(v, (len + 1) * sizeof *nv);
        if (nv)
            v = nv;
        if (!nv || !(v[len] = strdup(de->d_name))) {
            closedir(d);
            lkb_fs_names_free(v, len);
            errno = ENOMEM;
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        len++;
    }
    closedir(d);
    if (len)
        qsort(v, len, sizeof *v, cmp_name);
    *names = v;
    *n = len;
    return 0;
}

void lkb_fs_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

char *lkb_fs_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* Mapped, b's residency checked with mincore before a byte is read: a
 * comparison must never cost a disk read (renaming is cheaper then). */
bool lkb_fs_same_cached(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    struct stat sa, sb;
    bool same = fa >= 0 && fb >= 0 && fstat(fa, &sa) == 0 && fstat(fb, &sb) == 0 &&
                S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode) && sa.st_size == sb.st_size &&
                sa.st_size > 0 && (uint64_t)sa.st_size <= SIZE_MAX;
    size_t len = same ? (size_t)sa.st_size : 0;
    void *ma = same ? mmap(NULL, len, PROT_READ, MAP_SHARED, fa, 0) : MAP_FAILED;
    void *mb = ma != MAP_FAILED ? mmap(NULL, len, PROT_READ, MAP_SHARED, fb, 0) : MAP_FAILED;
    same = mb != MAP_FAILED;
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = page > 0 ? (len + (size_t)page - 1) / (size_t)page : 0;
    unsigned char *res = same && pages ? malloc(pages) : NULL;
    same = res && mincore(mb, len, res) == 0;
    for (size_t i = 0; same && i < pages; i++)
        same = res[i] & 1;
    same = same && memcmp(ma, mb, len) == 0;
    free(res);
    if (mb != MAP_FAILED)
        munmap(mb, len);
    if (ma != MAP_FAILED)
        munmap(ma, len);
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return same;
}
