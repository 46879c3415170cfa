/* Which device trees the rpi3 plugin puts on the boot partition, and under
 * which names (plugins/rpi3/dtbs.c, compiled in: the plugin links nothing of
 * lkbcore). */
#include <criterion/criterion.h>
#include <string.h>

#include "../../plugins/rpi3/dtbs.c"

static size_t plan(const struct lkb_input_file *in, size_t n, struct rpi3_dtb_copy **c)
{
    size_t m = 99;
    cr_assert_eq(rpi3_dtb_plan(in, n, c, &m), 0);
    return m;
}

/* The copy called name, or NULL. */
static const struct rpi3_dtb_copy *named(const struct rpi3_dtb_copy *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

Test(rpi3_dtbs, upstream_names_root_broadcom_and_uboot_aliases)
{
    const struct lkb_input_file in[] = {
        {"broadcom/bcm2711-rpi-4-b.dtb", "/a"},      {"broadcom/bcm2837-rpi-3-b.dtb", "/b"},
        {"broadcom/bcm2837-rpi-cm3-io3.dtb", "/c"}, {"broadcom/bcm2837-rpi-zero-2-w.dtb", "/d"},
        {"broadcom/bcm2837-rpi-3-b.dtb.txt", "/e"},  {"other/bcm2837-rpi-3-b.dtb", "/f"},
    };
    struct rpi3_dtb_copy *c;
    size_t n = plan(in, 6, &c);
    /* 3 trees at the root, 3 in dtb/broadcom/, 2 u-boot names. */
    cr_assert_eq(n, 8);
    cr_assert_eq(named(c, n, "bcm2837-rpi-3-b.dtb")->src, 1);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-3-b.dtb")->src, 1);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-cm3.dtb")->src, 2);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-zero-2.dtb")->src, 3);
    cr_assert_null(named(c, n, "bcm2711-rpi-4-b.dtb"));
    cr_assert_null(named(c, n, "dtb/broadcom/bcm2837-rpi-3-b-plus.dtb"));
    rpi3_dtb_plan_free(c, n);
}

Test(rpi3_dtbs, downstream_trees_stand_in_for_uboot_names)
{
    const struct lkb_input_file in[] = {
        {"broadcom/bcm2710-rpi-3-b.dtb", "/a"},
        {"broadcom/bcm2710-rpi-3-b-plus.dtb", "/b"},
        {"broadcom/bcm2710-rpi-cm3.dtb", "/c"},
        {"broadcom/bcm2710-rpi-zero-2.dtb", "/d"},
    };
    struct rpi3_dtb_copy *c;
    size_t n = plan(in, 4, &c);
    cr_assert_eq(named(c, n, "bcm2710-rpi-3-b.dtb")->src, 0);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-3-b.dtb")->src, 0);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-3-b-plus.dtb")->src, 1);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-3-a-plus.dtb")->src, 1);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-cm3.dtb")->src, 2);
    cr_assert_eq(named(c, n, "dtb/broadcom/bcm2837-rpi-zero-2.dtb")->src, 3);
    rpi3_dtb_plan_free(c, n);
}

Test(rpi3_dtbs, no_board_tree_is_an_empty_plan)
{
    const struct lkb_input_file in[] = {{"broadcom/bcm2711-rpi-4-b.dtb", "/a"},
                                        {"arm/bcm2837.dtb", "/b"}};
    struct rpi3_dtb_copy *c;
    cr_assert_eq(plan(in, 2, &c), 0);
    cr_assert_null(c);
    cr_assert_eq(plan(NULL, 0, &c), 0);
}
