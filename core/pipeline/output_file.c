#include "pipeline/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/staging.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"

char *lkb_output_file_dir(const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash)
        return strdup(".");
    return slash == file ? strdup("/") : strndup(file, (size_t)(slash - file));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted; *n of them. NULL only when out of memory. */
static char **list_entries(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = calloc(1, sizeof *names);
    *n = 0;
    struct dirent *de;
    while (d && names && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char **nn = realloc(names, (*n + 2) * sizeof *nn);
        if (nn && (nn[*n] = strdup(de->d_name))) {
            names = nn;
            names[++*n] = NULL;
            continue;
        }
        if (nn)
            names = nn;
        for (size_t i = 0; i < *n; i++)
            free(names[i]);
        free(names);
        names = NULL;
    }
    if (d)
        closedir(d);
    if (names && *n)
        qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

/* "a, b, c" for the message. */
static char *join_names(char **names, size_t n)
{
    char *list = strdup(n ? "" : "none");
    for (size_t i = 0; list && i < n; i++) {
        char *l = lkb_strf("%s%s%s", list, i ? ", " : "", names[i]);
        free(list);
        list = l;
    }
    return list;
}

static int commit(const char *stage, const char *file, const char *format,
                  struct lkb_error *err)
{
    size_t n;
    char **names = list_entries(stage, &n);
    char *list = names && n != 1 ? join_names(names, n) : NULL;
    int rc = 0;
    if (!names || (n != 1 && !list)) {
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    } else if (n != 1) {
        rc = lkb_error_set(err, LKB_ERR_USAGE,
                           "-o %s: format %s wrote %zu files (%s), -o takes a format that "
                           "writes one file; use -dir and -name",
                           file, format, n, list);
    } else {
        const char *first = names[0];
        char *src = lkb_fs_join(stage, first);
        struct stat st;
        int fd = -1;
        if (!src)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
            rc = lkb_error_set(err, LKB_ERR_USAGE,
                               "-o %s: format %s wrote %s, which is not a regular file", file,
                               format, first);
        else if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "output %s", src);
        else if (rename(src, file) < 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "committing output %s", file);
        else
            lkb_info("  %s", file);
        if (fd >= 0)
            close(fd);
        free(src);
    }
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(list);
    return rc;
}

int lkb_output_file_commit(const char *stage, const char *file, const char *format,
                           struct lkb_error *err)
{
    int rc = commit(stage, file, format, err);
    if (rc == 0) {
        /* Make the rename durable before reporting success. */
        char *dir = lkb_output_file_dir(file);
        int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        free(dir);
    }
    lkb_staging_discard(stage);
    return rc;
}
