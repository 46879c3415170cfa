#include <lkb/disk/ext4.h>
#include <lkb/disk/id.h>
#include <lkb/disk/run.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

int lkb_ext4_write(const char *image_path, uint64_t offset, uint64_t bytes,
                   const struct lkb_ext4_opts *o, struct lkb_disk_error *err)
{
    uint32_t bs = o && o->block_size ? o->block_size : 4096;
    if (bs != 1024 && bs != 2048 && bs != 4096)
        return disk_error(err, "ext4 block size %u: want 1024, 2048 or 4096", bs);
    if (bytes % bs || offset % 512)
        return disk_error(err, "ext4 region (offset %llu, %llu bytes) is not block aligned",
                          (unsigned long long)offset, (unsigned long long)bytes);
    if (o && o->label && strlen(o->label) > 16)
        return disk_error(err, "ext4 label \"%s\" is longer than 16 bytes", o->label);
    struct stat st;
    if (stat(image_path, &st) < 0)
        return disk_errno(err, errno, "%s", image_path);
    if ((uint64_t)st.st_size < offset + bytes)
        return disk_error(err, "%s is %llu bytes, the ext4 region ends at %llu", image_path,
                          (unsigned long long)st.st_size, (unsigned long long)(offset + bytes));
    if (o && o->source_dir && (stat(o->source_dir, &st) < 0 || !S_ISDIR(st.st_mode)))
        return disk_error(err, "ext4 contents %s: not a directory", o->source_dir);

    char uuid[LKB_DISK_GUID_LEN], hash[LKB_DISK_GUID_LEN], ext[160], blocks[32], bsz[16],
        fake[48];
    const char *seed = o ? o->seed : NULL;
    int64_t mtime = o && o->mtime > 0 ? o->mtime : 0;
    lkb_disk_guid(seed, "ext4-uuid", uuid);
    lkb_disk_guid(seed, "ext4-hash", hash);
    /* root_owner: the tree's root directory belongs to root, not the builder. */
    snprintf(ext, sizeof ext, "offset=%llu,hash_seed=%s,root_owner=0:0",
             (unsigned long long)offset, hash);
    snprintf(blocks, sizeof blocks, "%llu", (unsigned long long)(bytes / bs));
    snprintf(bsz, sizeof bsz, "%u", bs);
    snprintf(fake, sizeof fake, "E2FSPROGS_FAKE_TIME=%lld", (long long)mtime);
    const char *argv[24];
    int n = 0;
    argv[n++] = "mke2fs";
    argv[n++] = "-q";
    argv[n++] = "-F";
    argv[n++] = "-t";
    argv[n++] = "ext4";
    argv[n++] = "-b";
    argv[n++] = bsz;
    argv[n++] = "-U";
    argv[n++] = uuid;
    argv[n++] = "-E";
    argv[n++] = ext;
    if (o && o->label) {
        argv[n++] = "-L";
        argv[n++] = o->label;
    }
    if (o && o->source_dir) {
        argv[n++] = "-d";
        argv[n++] = o->source_dir;
    }
    argv[n++] = image_path;
    argv[n++] = blocks;
    argv[n] = NULL;
    const char *env[] = {fake, NULL};
    struct lkb_run_opts ro = {"e2fsprogs", mtime, env, o ? o->path : NULL, -1};
    if (lkb_run(argv, &ro, err) < 0)
        return disk_prefix(err, "making the ext4 file system in %s: ", image_path);
    return 0;
}
