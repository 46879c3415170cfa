#include "rootfs/lrudir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"

#define STALE_TMP_S 3600

struct file {
    char *name;
    uint64_t size;
    struct timespec mtime;
};

/* An entry: files [first, first + n) of the sorted list. */
struct entry {
    size_t first, n;
    uint64_t size;
    struct timespec used;
};

static size_t key_len(const char *name) { return strcspn(name, "."); }

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

static int older_first(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static void free_files(struct file *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(f[i].name);
    free(f);
}

/* Every regular file of dir, sorted by name (stale temporaries removed on
 * the way when drop_tmp). */
static int list(const char *dir, int drop_tmp, struct file **out, size_t *n,
                struct lkb_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : lkb_error_errno(err, LKB_ERR_IO, errno, "%s", dir);
    size_t cap = 0;
    struct dirent *de;
    time_t now = time(NULL);
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (de->d_name[0] == '.') {
            /* A writer's temporary: another build may be writing it now. */
            if (drop_tmp && now - st.st_mtime > STALE_TMP_S)
                unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct file *f = realloc(*out, cap * sizeof *f);
            if (!f) {
                rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                break;
            }
            *out = f;
        }
        struct file *f = &(*out)[*n];
        if (!(f->name = strdup(de->d_name))) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        f->size = (uint64_t)st.st_size;
        f->mtime = st.st_mtim;
        (*n)++;
    }
    closedir(d);
    if (rc == 0 && *n) /* an empty directory leaves *out NULL: not for qsort */
        qsort(*out, *n, sizeof **out, by_name);
    return rc;
}

static int newer(struct timespec a, struct timespec b)
{
    return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

int lkb_lrudir_trim(const char *dir, uint64_t max_bytes, struct lkb_error *err)
{
    struct file *f;
    size_t n;
    if (list(dir, 1, &f, &n, err) < 0)
        return -1;
    struct entry *e = calloc(n ? n : 1, sizeof *e);
    if (!e) {
        free_files(f, n);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    size_t ne = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct entry *last = ne ? &e[ne - 1] : NULL;
        size_t k = key_len(f[i].name);
        if (!last || key_len(f[last->first].name) != k ||
            strncmp(f[last->first].name, f[i].name, k) != 0)
            last = &e[ne++], *last = (struct entry){.first = i, .used = f[i].mtime};
        last->n++;
        last->size += f[i].size;
        if (newer(f[i].mtime, last->used))
            last->used = f[i].mtime;
        total += f[i].size;
    }
    if (total > max_bytes) {
        qsort(e, ne, sizeof *e, older_first);
        for (size_t i = 0; i < ne && total > max_bytes; i++) {
            for (size_t j = e[i].first; j < e[i].first + e[i].n; j++) {
                char *p = lkb_fs_join(dir, f[j].name);
                if (p && unlink(p) == 0)
                    total -= f[j].size;
                free(p);
            }
        }
    }
    free(e);
    free_files(f, n);
    return 0;
}

uint64_t lkb_lrudir_bound(const char *env, uint64_t dflt)
{
    const char *v = getenv(env);
    char *end;
    unsigned long long b = v && *v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end ? b : dflt;
}

int lkb_lrudir_clean(const char *dir, size_t *n, uint64_t *bytes, struct lkb_error *err)
{
    struct file *f;
    size_t nf;
    *n = 0;
    *bytes = 0;
    if (list(dir, 0, &f, &nf, err) < 0)
        return -1;
    for (size_t i = 0; i < nf; i++) {
        *bytes += f[i].size;
        size_t k = key_len(f[i].name);
        *n += i == 0 || key_len(f[i - 1].name) != k || strncmp(f[i - 1].name, f[i].name, k);
    }
    free_files(f, nf);
    return lkb_fs_remove_tree(dir, err);
}
