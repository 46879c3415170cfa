#include "util/stamp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/fs.h"

#define STAMP_MAGIC "lkb-stamp 1"

static int stamp_of(const char *path, char *buf, size_t len)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    snprintf(buf, len, STAMP_MAGIC " %" PRIu64 " %" PRIu64 " %" PRIu64 " %lld.%09ld %lld.%09ld\n",
             (uint64_t)st.st_size, (uint64_t)st.st_dev, (uint64_t)st.st_ino,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
             st.st_ctim.tv_nsec);
    return 0;
}

bool lkb_stamp_matches(const char *path, const char *stamp_path)
{
    char want[160], *have = NULL;
    size_t len;
    struct lkb_error err;
    if (stamp_of(path, want, sizeof want) < 0 ||
        lkb_fs_read_file(stamp_path, &have, &len, &err) < 0)
        return false;
    bool ok = strcmp(have, want) == 0;
    free(have);
    return ok;
}

int lkb_stamp_write(const char *path, const char *stamp_path, struct lkb_error *err)
{
    char buf[160];
    if (stamp_of(path, buf, sizeof buf) < 0)
        return lkb_error_errno(err, LKB_ERR_IO, errno, "%s", path);
    return lkb_fs_write_unsynced(stamp_path, buf, strlen(buf), NULL, 0, err);
}
