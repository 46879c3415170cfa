/* Partition tables through libfdisk: what sfdisk -J and sgdisk -v read
 * back (starts, sizes, types, flags, seeded disk id and GUIDs, names),
 * reproducibility, and the layout errors. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <lkb/disk/part.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk_testlib.h"

#define MiB (UINT64_C(1) << 20)

TestSuite(part, .fini = tl_cleanup);

static json_t *sfdisk_json(const char *img)
{
    int st;
    char *out = tl_sh(&st, "sfdisk -J '%s'", img);
    cr_assert_eq(st, 0, "sfdisk: %s", out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, out);
    free(out);
    json_t *pt = json_object_get(j, "partitiontable");
    json_incref(pt);
    json_decref(j);
    return pt;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static uint64_t num(json_t *o, const char *k)
{
    return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

Test(part, mbr_as_sfdisk_reads_it)
{
    struct lkb_disk_error err;
    struct lkb_part_table t = {LKB_PART_MBR, "mbr-seed", 0};
    struct lkb_part p[2] = {{.type = "c", .size = 64 * MiB, .bootable = 1}, {.type = "linux"}};
    int fd = tl_image(tl_path("mbr.img"), 128 * MiB);
    cr_assert_eq(lkb_part_write(fd, &t, p, 2, &err), 0, "%s", err.msg);
    close(fd);
    cr_assert_eq(p[0].start, MiB);
    cr_assert_eq(p[1].start, 65 * MiB);
    cr_assert_eq(p[1].size, 63 * MiB);
    json_t *pt = sfdisk_json(tl_path("mbr.img"));
    cr_assert_str_eq(str(pt, "label"), "dos");
    char id[16];
    snprintf(id, sizeof id, "0x%08x", lkb_disk_id32("mbr-seed", "mbr-disk-id"));
    cr_assert_str_eq(str(pt, "id"), id);
    json_t *ps = json_object_get(pt, "partitions");
    cr_assert_eq(json_array_size(ps), 2);
    json_t *a = json_array_get(ps, 0), *b = json_array_get(ps, 1);
    cr_assert_eq(num(a, "start"), 2048);
    cr_assert_eq(num(a, "size"), 64 * 2048);
    cr_assert_str_eq(str(a, "type"), "c");
    cr_assert(json_is_true(json_object_get(a, "bootable")));
    cr_assert_eq(num(b, "start"), 65 * 2048);
    cr_assert_eq(num(b, "size"), 63 * 2048);
    cr_assert_str_eq(str(b, "type"), "83");
    cr_assert_null(json_object_get(b, "bootable"));
    json_decref(pt);
    char uuid[LKB_DISK_GUID_LEN];
    lkb_part_uuid(&t, 2, uuid);
    cr_assert_eq(strncmp(uuid, id + 2, 8), 0);
    cr_assert_str_eq(uuid + 8, "-02");
}

static void write_gpt(const char *img, const char *seed, struct lkb_part *p)
{
    struct lkb_disk_error err;
    struct lkb_part_table t = {LKB_PART_GPT, seed, 0};
    p[0] = (struct lkb_part){.type = "uefi", .size = 32 * MiB, .name = "ESP"};
    p[1] = (struct lkb_part){.type = "21686148-6449-6E6F-744E-656564454649", .size = MiB,
                             .bootable = 1, .name = "bios"};
    p[2] = (struct lkb_part){.type = "linux", .name = "root"};
    int fd = tl_image(img, 100 * MiB);
    cr_assert_eq(lkb_part_write(fd, &t, p, 3, &err), 0, "%s", err.msg);
    close(fd);
}

Test(part, gpt_as_sfdisk_and_sgdisk_read_it)
{
    struct lkb_part p[3];
    write_gpt(tl_path("gpt.img"), "gpt-seed", p);
    int st;
    char *out = tl_sh(&st, "sgdisk -v '%s'", tl_path("gpt.img"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "No problems found"), "%s", out);
    free(out);
    json_t *pt = sfdisk_json(tl_path("gpt.img"));
    cr_assert_str_eq(str(pt, "label"), "gpt");
    char want[LKB_DISK_GUID_LEN], got[64];
    lkb_disk_guid("gpt-seed", "gpt-disk", want);
    snprintf(got, sizeof got, "%s", str(pt, "id"));
    lower(got);
    cr_assert_str_eq(got, want);
    json_t *ps = json_object_get(pt, "partitions");
    cr_assert_eq(json_array_size(ps), 3);
    const char *types[] = {"C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
                           "21686148-6449-6E6F-744E-656564454649",
                           "0FC63DAF-8483-4772-8E79-3D69D8477DE4"};
    const char *names[] = {"ESP", "bios", "root"};
    struct lkb_part_table t = {LKB_PART_GPT, "gpt-seed", 0};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(ps, i);
        cr_assert_eq(num(e, "start") * 512, p[i].start);
        cr_assert_eq(num(e, "size") * 512, p[i].size);
        cr_assert_str_eq(str(e, "type"), types[i]);
        cr_assert_str_eq(str(e, "name"), names[i]);
        lkb_part_uuid(&t, i + 1, want);
        snprintf(got, sizeof got, "%s", str(e, "uuid"));
        lower(got);
        cr_assert_str_eq(got, want);
    }
    cr_assert_str_eq(str(json_array_get(ps, 1), "attrs"), "LegacyBIOSBootable");
    /* The protective MBR: one 0xee entry from sector 1 over the disk. */
    size_t len;
    unsigned char *raw = (unsigned char *)tl_read(tl_path("gpt.img"), &len);
    cr_assert_eq(raw[446 + 4], 0xee);
    cr_assert_eq(raw[446 + 8] | raw[446 + 9] << 8, 1);
    cr_assert_eq(raw[462 + 4], 0);
    cr_assert(raw[510] == 0x55 && raw[511] == 0xaa);
    free(raw);
    /* The rest: up to the last whole MiB before the backup table. */
    cr_assert_eq(p[2].start, 34 * MiB);
    cr_assert_eq(p[2].size, 65 * MiB);
    json_decref(pt);
}

Test(part, same_seed_same_bytes_other_seed_other_ids)
{
    struct lkb_part p[3];
    write_gpt(tl_path("a.img"), "one", p);
    write_gpt(tl_path("b.img"), "one", p);
    write_gpt(tl_path("c.img"), "two", p);
    cr_assert(tl_same_file(tl_path("a.img"), tl_path("b.img")));
    cr_assert_not(tl_same_file(tl_path("a.img"), tl_path("c.img")));
}

Test(part, layout_errors_name_the_partition)
{
    struct lkb_disk_error err;
    struct lkb_part_table mbr = {LKB_PART_MBR, NULL, 0}, gpt = {LKB_PART_GPT, NULL, 0};
    struct lkb_part p[5];
    for (int i = 0; i < 5; i++)
        p[i] = (struct lkb_part){.type = "83", .size = MiB};
    cr_assert_eq(lkb_part_layout(&mbr, 64 * MiB, p, 5, &err), -1);
    cr_assert_str_eq(err.msg, "5 partitions: an MBR holds 4 (use GPT)");

    struct lkb_part big[1] = {{.type = "83", .size = 64 * MiB}};
    cr_assert_eq(lkb_part_layout(&mbr, 64 * MiB, big, 1, &err), -1);
    cr_assert_str_eq(err.msg, "partition 1 (67108864 bytes at 1048576) does not fit on a disk of "
                              "67108864 bytes");
    cr_assert_eq(lkb_part_min_disk_bytes(&mbr, big, 1), 65 * MiB);
    cr_assert_eq(lkb_part_min_disk_bytes(&gpt, big, 1), 66 * MiB);

    struct lkb_part rest[2] = {{.type = "83"}, {.type = "83", .size = MiB}};
    cr_assert_eq(lkb_part_layout(&gpt, 64 * MiB, rest, 2, &err), -1);
    cr_assert_str_eq(err.msg, "partition 1 fills the rest of the disk but is not last");

    struct lkb_part overlap[2] = {{.type = "83", .size = 4 * MiB},
                                  {.type = "83", .size = MiB, .start = 2 * MiB}};
    cr_assert_eq(lkb_part_layout(&gpt, 64 * MiB, overlap, 2, &err), -1);
    cr_assert_str_eq(err.msg, "partition 2 starts at 2097152, inside the previous partition (which "
                              "ends at 5242880)");

    struct lkb_part odd[1] = {{.type = "83", .size = MiB, .start = 3 * 512}};
    cr_assert_eq(lkb_part_layout(&gpt, 64 * MiB, odd, 1, &err), -1);
    cr_assert_str_eq(err.msg, "partition 1 starts at 1536, not a multiple of 1048576");

    struct lkb_part typo[1] = {{.type = "linxu", .size = MiB}};
    int fd = tl_image(tl_path("t.img"), 8 * MiB);
    cr_assert_eq(lkb_part_write(fd, &gpt, typo, 1, &err), -1);
    cr_assert_str_eq(err.msg, "partition 1: unknown GPT partition type \"linxu\"");
    close(fd);
}

Test(part, ids_are_stable_and_well_formed)
{
    char a[LKB_DISK_GUID_LEN], b[LKB_DISK_GUID_LEN];
    lkb_disk_guid("s", "p", a);
    lkb_disk_guid("s", "p", b);
    cr_assert_str_eq(a, b);
    cr_assert_eq(strlen(a), 36);
    cr_assert_eq(a[14], '4');                  /* version 4 */
    cr_assert_not_null(strchr("89ab", a[19])); /* RFC 4122 variant */
    lkb_disk_guid("s", "q", b);
    cr_assert_str_neq(a, b);
    lkb_disk_guid("sp", "", b); /* the separator keeps ("s","p") apart */
    cr_assert_str_neq(a, b);
    cr_assert_eq(lkb_disk_id32("x", "y"), lkb_disk_id32("x", "y"));
    cr_assert_neq(lkb_disk_id32("x", "y"), lkb_disk_id32("x", "z"));
    cr_assert_neq(lkb_disk_id32(NULL, "y"), 0);
}
