#include "sdimage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (UINT64_C(1) << 20)
#define FIRST_LBA 2048u /* 1 MiB: the alignment SD cards want */

struct mbr_part {
    unsigned char boot, chs_first[3], type, chs_last[3], lba[4], sectors[4];
};
_Static_assert(sizeof(struct mbr_part) == 16, "MBR partition entry");

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void part(struct mbr_part *p, int boot, unsigned char type, uint32_t lba, uint32_t n)
{
    memset(p, 0, sizeof *p);
    p->boot = boot ? 0x80 : 0;
    p->type = type;
    /* LBA-only: CHS fields say "beyond 1024 cylinders". */
    memcpy(p->chs_first, "\xfe\xff\xff", 3);
    memcpy(p->chs_last, "\xfe\xff\xff", 3);
    le32(p->lba, lba);
    le32(p->sectors, n);
}

/* mke2fs on a region of the image, reproducibly (fixed UUID, hash seed,
 * time). Missing mke2fs is an error naming the package. */
static int make_ext4(const char *path, uint64_t offset, uint64_t bytes, char *msg, size_t msglen)
{
    char off[64], blocks[64];
    snprintf(off, sizeof off, "offset=%llu,hash_seed=6c6b6264-6174-6100-0000-000000000001",
             (unsigned long long)offset);
    snprintf(blocks, sizeof blocks, "%llu", (unsigned long long)(bytes / 4096));
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        setenv("E2FSPROGS_FAKE_TIME", "1492533000", 1);
        execlp("mke2fs", "mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-L", "lkb-data",
               "-U", "6c6b6264-6174-6100-0000-000000000002", "-E", off, path, blocks,
               (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(msg, msglen,
                 WIFEXITED(status) && WEXITSTATUS(status) == 127
                     ? "mke2fs not found: install e2fsprogs, or use -format-opt data-fs=none"
                     : "mke2fs failed to create the data partition");
        return -1;
    }
    return 0;
}

int sdimage_write(const char *path, const struct sd_layout *l, const struct fat_file *files,
                  size_t n, char *msg, size_t msglen)
{
    uint64_t need = fat32_min_bytes(files, n);
    if (!need) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    /* Headroom to replace the kernel and initrd in place later: twice what
     * the files take, at least 64 MiB. The boot partition also takes
     * whatever the data partition leaves (all of it without one). */
    uint64_t boot = 2 * need < 64 * MiB ? 64 * MiB : 2 * need;
    uint64_t start = (uint64_t)FIRST_LBA * 512, data = 0;
    uint64_t total = l->total;
    int rest = l->data_size == UINT64_MAX;
    if (l->data_size && !rest)
        data = (l->data_size + MiB - 1) & ~(MiB - 1);
    if (!total) {
        /* A power of two: QEMU's SD card model insists on it. */
        total = 64 * MiB;
        while (total < start + boot + data + (rest ? 64 * MiB : 0))
            total *= 2;
    }
    if (start + boot + data > total) {
        snprintf(msg, msglen,
                 "the SD image needs %llu MiB (a boot partition of %llu MiB: twice its files, at "
                 "least 64) "
                 "but -size gives %llu MiB",
                 (unsigned long long)((start + boot + data + MiB - 1) / MiB),
                 (unsigned long long)(boot / MiB), (unsigned long long)(total / MiB));
        return -1;
    }
    if (rest)
        data = (total - start - boot) & ~(MiB - 1);
    else
        boot = (total - start - data) & ~(MiB - 1);
    size_t plen = strlen(path) + 16;
    char *tmp = malloc(plen);
    if (!tmp) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    snprintf(tmp, plen, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(msg, msglen, "creating %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = fchmod(fd, 0644) < 0 || ftruncate(fd, (off_t)total) < 0 ? -1 : 0;
    if (rc < 0)
        snprintf(msg, msglen, "sizing %s: %s", path, strerror(errno));
    unsigned char mbr[512] = {0};
    if (rc == 0) {
        /* Disk signature from the size: reproducible. */
        le32(mbr + 440, 0x6c6b6200u ^ (uint32_t)(total >> 20));
        part((struct mbr_part *)(void *)(mbr + 446), 1, 0x0c, FIRST_LBA, (uint32_t)(boot / 512));
        if (data)
            part((struct mbr_part *)(void *)(mbr + 462), 0, 0x83,
                 (uint32_t)((start + boot) / 512), (uint32_t)(data / 512));
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        if (pwrite(fd, mbr, sizeof mbr, 0) != (ssize_t)sizeof mbr) {
            snprintf(msg, msglen, "writing %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0)
        rc = fat32_write(fd, start, boot, FIRST_LBA, "LKBBOOT", files, n, msg, msglen);
    if (rc == 0 && fsync(fd) < 0) {
        snprintf(msg, msglen, "writing %s: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    if (rc == 0 && data && strcmp(l->data_fs, "ext4") == 0)
        rc = make_ext4(tmp, start + boot, data, msg, msglen);
    if (rc == 0 && rename(tmp, path) < 0) {
        snprintf(msg, msglen, "renaming into %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}
