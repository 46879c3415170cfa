#include <lkb/disk/part.h>

#include <errno.h>
#include <libfdisk.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

/* libfdisk rather than our own writer: it is what sfdisk uses, knows every
 * type alias, computes the GPT CRCs and the protective MBR, and is checked
 * by its own test suite. */

#define SECTOR 512u
#define GPT_RESERVED_SECTORS 34u /* protective MBR + header + 32 entry sectors */

static uint64_t align_of(const struct lkb_part_table *t)
{
    return t->align ? t->align : UINT64_C(1) << 20;
}

/* First and one-past-last usable byte on a disk of disk_bytes. */
static void usable(const struct lkb_part_table *t, uint64_t disk_bytes, uint64_t *lo, uint64_t *hi)
{
    uint64_t reserved = t->label == LKB_PART_GPT ? GPT_RESERVED_SECTORS * SECTOR : SECTOR;
    *lo = reserved;
    /* The GPT backup (entries + header) takes the last 33 sectors. */
    uint64_t tail = t->label == LKB_PART_GPT ? (GPT_RESERVED_SECTORS - 1) * SECTOR : 0;
    *hi = disk_bytes > tail ? disk_bytes - tail : 0;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

uint64_t lkb_part_min_disk_bytes(const struct lkb_part_table *t, const struct lkb_part *parts,
                                 size_t n)
{
    uint64_t a = align_of(t), lo, hi, end;
    usable(t, 0, &lo, &hi);
    end = lo;
    for (size_t i = 0; i < n; i++) {
        uint64_t start = parts[i].start ? parts[i].start : round_up(end, a);
        end = start + (parts[i].size ? round_up(parts[i].size, a) : a);
    }
    uint64_t tail = t->label == LKB_PART_GPT ? (GPT_RESERVED_SECTORS - 1) * SECTOR : 0;
    return round_up(end + tail, a);
}

int lkb_part_layout(const struct lkb_part_table *t, uint64_t disk_bytes, struct lkb_part *parts,
                    size_t n, struct lkb_disk_error *err)
{
    uint64_t a = align_of(t), lo, hi, prev_end;
    if (t->label != LKB_PART_MBR && t->label != LKB_PART_GPT)
        return disk_error(err, "unknown partition table label %d", (int)t->label);
    if (a % SECTOR)
        return disk_error(err, "partition alignment %llu is not a multiple of 512",
                          (unsigned long long)a);
    if (disk_bytes % SECTOR)
        return disk_error(err, "disk size %llu is not a multiple of 512",
                          (unsigned long long)disk_bytes);
    if (t->label == LKB_PART_MBR && n > 4)
        return disk_error(err, "%zu partitions: an MBR holds 4 (use GPT)", n);
    if (t->label == LKB_PART_MBR && disk_bytes / SECTOR > UINT32_MAX)
        return disk_error(err, "an MBR addresses 2 TiB, the disk has %llu bytes (use GPT)",
                          (unsigned long long)disk_bytes);
    usable(t, disk_bytes, &lo, &hi);
    prev_end = lo;
    for (size_t i = 0; i < n; i++) {
        struct lkb_part *p = &parts[i];
        if (!p->type || !*p->type)
            return disk_error(err, "partition %zu has no type", i + 1);
        if (!p->start)
            p->start = round_up(prev_end, a);
        if (p->start % a)
            return disk_error(err, "partition %zu starts at %llu, not a multiple of %llu", i + 1,
                              (unsigned long long)p->start, (unsigned long long)a);
        if (p->start < prev_end)
            return disk_error(err, "partition %zu starts at %llu, inside %s (which ends at %llu)",
                              i + 1, (unsigned long long)p->start,
                              i ? "the previous partition" : "the partition table",
                              (unsigned long long)prev_end);
        if (!p->size) {
            if (i + 1 != n)
                return disk_error(err, "partition %zu fills the rest of the disk but is not last",
                                  i + 1);
            p->size = hi > p->start ? (hi - p->start) / a * a : 0;
            if (!p->size)
                return disk_error(err, "no room left on the %llu-byte disk for partition %zu",
                                  (unsigned long long)disk_bytes, i + 1);
        }
        p->size = round_up(p->size, a);
        if (p->start + p->size > hi)
            return disk_error(err,
                              "partition %zu (%llu bytes at %llu) does not fit on a disk of %llu "
                              "bytes",
                              i + 1, (unsigned long long)p->size, (unsigned long long)p->start,
                              (unsigned long long)disk_bytes);
        prev_end = p->start + p->size;
    }
    return 0;
}

void lkb_part_uuid(const struct lkb_part_table *t, size_t partno, char out[LKB_DISK_GUID_LEN])
{
    if (t->label == LKB_PART_MBR) {
        snprintf(out, LKB_DISK_GUID_LEN, "%08x-%02zx", lkb_disk_id32(t->seed, "mbr-disk-id"),
                 partno & 0xff);
    } else {
        char purpose[48];
        snprintf(purpose, sizeof purpose, "gpt-part-%zu", partno);
        lkb_disk_guid(t->seed, purpose, out);
    }
}

/* libfdisk reports through "dialogs": keep the last warning for the error
 * message and refuse every question (nothing here is interactive). */
static int ask(struct fdisk_context *cxt, struct fdisk_ask *a, void *data)
{
    (void)cxt;
    struct lkb_disk_error *warn = data;
    switch (fdisk_ask_get_type(a)) {
    case FDISK_ASKTYPE_INFO:
        return 0;
    case FDISK_ASKTYPE_WARN:
    case FDISK_ASKTYPE_WARNX:
    {
        const char *m = fdisk_ask_print_get_mesg(a);
        snprintf(warn->msg, sizeof warn->msg, "%s", m ? m : "");
        return 0;
    }
    default:
        return -EINVAL;
    }
}

static int fail(struct lkb_disk_error *err, const struct lkb_disk_error *warn, int rc,
                const char *what)
{
    if (warn->msg[0])
        return disk_error(err, "writing the partition table: %s: %s", what, warn->msg);
    return disk_errno(err, rc < 0 ? -rc : EINVAL, "writing the partition table: %s", what);
}

static int add(struct fdisk_context *cxt, const struct lkb_part_table *t, const struct lkb_part *p,
               size_t i, struct lkb_disk_error *err, struct lkb_disk_error *warn)
{
    struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
    struct fdisk_parttype *type =
        fdisk_label_advparse_parttype(lb, p->type, FDISK_PARTTYPE_PARSE_DEFAULT | FDISK_PARTTYPE_PARSE_NOUNKNOWN);
    if (!type)
        return disk_error(err, "partition %zu: unknown %s partition type \"%s\"", i + 1,
                          t->label == LKB_PART_GPT ? "GPT" : "MBR", p->type);
    struct fdisk_partition *pa = fdisk_new_partition();
    char uuid[LKB_DISK_GUID_LEN], what[64];
    int rc = pa ? 0 : -ENOMEM;
    if (rc == 0)
        rc = fdisk_partition_set_partno(pa, i);
    if (rc == 0)
        rc = fdisk_partition_set_start(pa, p->start / SECTOR);
    if (rc == 0)
        rc = fdisk_partition_set_size(pa, p->size / SECTOR);
    if (rc == 0)
        rc = fdisk_partition_set_type(pa, type);
    if (rc == 0 && t->label == LKB_PART_GPT) {
        lkb_part_uuid(t, i + 1, uuid);
        rc = fdisk_partition_set_uuid(pa, uuid);
        if (rc == 0 && p->name)
            rc = fdisk_partition_set_name(pa, p->name);
    }
    size_t partno = i;
    if (rc == 0)
        rc = fdisk_add_partition(cxt, pa, &partno);
    if (rc == 0 && p->bootable)
        rc = fdisk_toggle_partition_flag(
            cxt, partno, t->label == LKB_PART_GPT ? GPT_FLAG_LEGACYBOOT : DOS_FLAG_ACTIVE);
    fdisk_unref_partition(pa);
    fdisk_unref_parttype(type);
    snprintf(what, sizeof what, "partition %zu", i + 1);
    return rc ? fail(err, warn, rc, what) : 0;
}

int lkb_part_write(int fd, const struct lkb_part_table *t, struct lkb_part *parts, size_t n,
                   struct lkb_disk_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return disk_errno(err, errno, "writing the partition table");
    if (lkb_part_layout(t, (uint64_t)st.st_size, parts, n, err) < 0)
        return -1;
    struct lkb_disk_error warn = {""};
    struct fdisk_context *cxt = fdisk_new_context();
    if (!cxt)
        return disk_error(err, "out of memory");
    char id[LKB_DISK_GUID_LEN];
    if (t->label == LKB_PART_GPT)
        lkb_disk_guid(t->seed, "gpt-disk", id);
    else
        snprintf(id, sizeof id, "0x%08x", lkb_disk_id32(t->seed, "mbr-disk-id"));
    int rc = fdisk_set_ask(cxt, ask, &warn);
    int assigned = 0;
    if (rc == 0 && (rc = fdisk_assign_device_by_fd(cxt, fd, "disk image", 0)) == 0)
        assigned = 1;
    if (rc)
        rc = fail(err, &warn, rc, "opening the image");
    if (rc == 0 && (rc = fdisk_create_disklabel(cxt, t->label == LKB_PART_GPT ? "gpt" : "dos")))
        rc = fail(err, &warn, rc, "creating the label");
    if (rc == 0 && (rc = fdisk_set_disklabel_id_from_string(cxt, id)))
        rc = fail(err, &warn, rc, "setting the disk id");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = add(cxt, t, &parts[i], i, err, &warn);
    if (rc == 0 && (rc = fdisk_write_disklabel(cxt)))
        rc = fail(err, &warn, rc, "writing");
    /* nosync: a regular file needs no BLKRRPART; the fd stays the caller's. */
    if (assigned)
        fdisk_deassign_device(cxt, 1);
    fdisk_unref_context(cxt);
    return rc ? -1 : 0;
}
