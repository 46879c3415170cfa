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
    char **names;
    if (lkb_fs_list_dir(stage, NULL, &names, &n, err) < 0)
        return -1;
    char *list = n != 1 ? join_names(names, n) : NULL;
    int rc = 0;
    if (n != 1 && !list) {
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
        if (!src)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (lstat(src, &st) < 0 || !S_ISREG(st.st_mode))
            rc = lkb_error_set(err, LKB_ERR_USAGE,
                               "-o %s: format %s wrote %s, which is not a regular file", file,
                               format, first);
        else if ((rc = lkb_staging_place(src, file, err)) == 0)
            lkb_info("  %s", file);
        free(src);
    }
    lkb_fs_names_free(names, n);
    free(list);
    return rc;
}

int lkb_output_file_commit(const char *stage, const char *file, const char *format,
                           struct lkb_error *err)
{
    int rc = commit(stage, file, format, err);
    lkb_staging_discard(stage);
    return rc;
}
