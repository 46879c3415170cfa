/* Output planning follows LinuxKit's checks (build-and-outputs.md §1.3). */
#include <criterion/criterion.h>
#include <string.h>

#include "pipeline/plan.h"
#include "cli/cli.h"

static struct lkb_build_opts o;
static struct lkb_build_plan plan;
static struct lkb_plugin_set set;
static struct lkb_error err;

static void init(void)
{
    lkb_plugin_set_init(&set);
    cr_assert_eq(lkb_plugin_set_load_file(&set, LKB_TEST_BINARY_DIR "/test-plugins/good.so", &err),
                 0, "%s", err.msg);
}
static void fini(void)
{
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    lkb_plugin_set_free(&set);
}
TestSuite(plan, .init = init, .fini = fini);

#define PLAN(...)                                                                              \
    ({                                                                                         \
        char *argv_[] = {"build", __VA_ARGS__, NULL};                                          \
        cr_assert_eq(lkb_cli_parse_build((int)(sizeof argv_ / sizeof *argv_) - 1, argv_, &o,   \
                                         &err),                                                \
                     0, "%s", err.msg);                                                        \
        lkb_build_plan_make(&o, &set, &plan, &err);                                            \
    })

Test(plan, defaults_kernel_initrd_and_name_from_last_config)
{
    cr_assert_eq(PLAN("a/first.yml", "dir/sys.v2.yml"), 0, "%s", err.msg);
    cr_assert_eq(plan.n_formats, 1);
    cr_assert_str_eq(plan.formats[0].name, "kernel+initrd");
    cr_assert_eq(plan.formats[0].builtin, LKB_FMT_KERNEL_INITRD);
    cr_assert_str_eq(plan.name, "sys.v2");
    cr_assert_str_eq(plan.dir, ".");
    cr_assert_null(plan.output_file);
}

Test(plan, stdin_config_is_named_moby)
{
    cr_assert_eq(PLAN("-"), 0, "%s", err.msg);
    cr_assert_str_eq(plan.name, "moby");
}

Test(plan, output_defaults_format_to_tar)
{
    cr_assert_eq(PLAN("-o", "out.tar", "x.yml"), 0, "%s", err.msg);
    cr_assert_str_eq(plan.formats[0].name, "tar");
    cr_assert_str_eq(plan.output_file, "out.tar");
}

Test(plan, tar_without_output_goes_to_dir_name_tar)
{
    cr_assert_eq(PLAN("-format", "tar", "-dir", "out", "-name", "n", "x.yml"), 0, "%s", err.msg);
    cr_assert_str_eq(plan.output_file, "out/n.tar");
}

Test(plan, streamable_must_be_alone)
{
    cr_assert_eq(PLAN("-format", "kernel+initrd,tar", "x.yml"), -1);
    cr_assert_str_eq(err.msg, "format type tar must be the only format specified");
}

Test(plan, output_rules)
{
    cr_assert_eq(PLAN("-o", "f", "-format", "kernel+initrd", "x.yml"), -1);
    cr_assert(strstr(err.msg, "cannot be specified for build type kernel+initrd"), "%s", err.msg);
}

Test(plan, output_with_name_rejected)
{
    cr_assert_eq(PLAN("-o", "f", "-name", "n", "x.yml"), -1);
    cr_assert(strstr(err.msg, "cannot be specified with -name"), "%s", err.msg);
}

Test(plan, plugin_format_found_and_unknown_lists_available)
{
    cr_assert_eq(PLAN("-format", "testfmt,kernel+initrd", "x.yml"), 0, "%s", err.msg);
    cr_assert_eq(plan.formats[0].builtin, LKB_FMT_PLUGIN);
    cr_assert_not_null(plan.formats[0].plugin);
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-format", "nosuch", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "unknown format type nosuch (available: kernel+initrd, tar, "
                              "tar-kernel-initrd, testfmt, testfail)"),
              "%s", err.msg);
}

Test(plan, unknown_format_names_refused_plugins)
{
    struct lkb_error e2;
    lkb_plugin_set_load_file(&set, LKB_TEST_BINARY_DIR "/test-plugins/wrong_abi.so", &e2);
    cr_assert_eq(PLAN("-format", "wrongabi", "x.yml"), -1);
    cr_assert(strstr(err.msg, "refused plugin") && strstr(err.msg, "wrong_abi.so"), "%s", err.msg);
}

Test(plan, repeated_format_built_once)
{
    cr_assert_eq(PLAN("-format", "testfmt", "-format", "testfmt", "x.yml"), 0, "%s", err.msg);
    cr_assert_eq(plan.n_formats, 1);
}
