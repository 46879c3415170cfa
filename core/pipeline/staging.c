#include "pipeline/staging.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"
#include "util/tempfiles.h"

int lkb_staging_create(const char *dir, char **stage, struct lkb_error *err)
{
    /* "<dir>/.lkb-staging-<pid>-XXXXXX": registered so SIGINT/SIGTERM remove
     * it, and the pid lets a later build remove one a SIGKILL left. */
    lkb_temp_remove_stale(dir, ".lkb-staging-");
    if (!(*stage = lkb_strf("%s/.lkb-staging-%ld-XXXXXX", dir, (long)getpid())))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (!mkdtemp(*stage)) {
        int e = errno;
        free(*stage);
        *stage = NULL;
        return lkb_error_errno(err, LKB_ERR_IO, e, "output directory %s", dir);
    }
    lkb_temp_register(*stage, true);
    return 0;
}

/* An unchanged rebuild into the same -dir: replacing an output frees the
 * old file's blocks, which cost 25-35 ms per 30 MB on a file system
 * mounted with `discard` and writes the same bytes to disk again later.
 * An identical output is kept instead; its mtime still says it was built
 * now (make and friends see a fresh target). */
int lkb_staging_place(const char *src, const char *dst, struct lkb_error *err)
{
    struct stat s, t;
    if (lstat(src, &s) == 0 && lstat(dst, &t) == 0 && S_ISREG(s.st_mode) &&
        S_ISREG(t.st_mode) && t.st_nlink == 1 && (s.st_mode & 07777) == (t.st_mode & 07777) &&
        lkb_fs_same_cached(src, dst) && utimensat(AT_FDCWD, dst, NULL, 0) == 0)
        return 0;
    if (rename(src, dst) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "committing output %s", dst);
    return 0;
}

/* Outputs are renamed into place without fsync, as compilers, tar and
 * LinuxKit leave them: the rename makes the commit atomic against a failed
 * or killed build; durability against a power cut is the page cache's
 * (`sync` after the build asks for it). Syncing tens of megabytes cost more
 * than a whole cached rebuild. */
int lkb_staging_commit(const char *stage, const char *dir, struct lkb_error *err)
{
    char **names;
    size_t n;
    int rc = lkb_fs_list_dir(stage, NULL, &names, &n, err);
    if (rc < 0)
        return -1;
    /* Check every target before moving anything. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *src = lkb_fs_join(stage, names[i]), *dst = lkb_fs_join(dir, names[i]);
        struct stat s, t;
        if (!src || !dst)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (lstat(src, &s) == 0 && lstat(dst, &t) == 0 &&
                 (S_ISDIR(s.st_mode) || S_ISDIR(t.st_mode)))
            rc = lkb_error_set(err, LKB_ERR_IO,
                               "output %s: a directory cannot replace or be replaced by an "
                               "output (remove it first)",
                               dst);
        free(src);
        free(dst);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *src = lkb_fs_join(stage, names[i]), *dst = lkb_fs_join(dir, names[i]);
        if (!src || !dst)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if ((rc = lkb_staging_place(src, dst, err)) == 0)
            lkb_info("  %s", dst);
        free(src);
        free(dst);
    }
    lkb_fs_names_free(names, n);
    lkb_staging_discard(stage);
    return rc;
}

void lkb_staging_discard(const char *stage)
{
    struct lkb_error e;
    if (stage && lkb_fs_remove_tree(stage, &e) < 0)
        lkb_warn("%s", e.msg);
    if (stage)
        lkb_temp_forget(stage);
}
