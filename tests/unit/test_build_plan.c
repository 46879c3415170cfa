/* Output planning follows LinuxKit's checks (build-and-outputs.md §1.3). */
#include <criterion/criterion.h>
#include <string.h>

#include "cli/cli.h"
#include "pipeline/builtin_formats.h"
#include "pipeline/plan.h"

static struct lkb_build_opts o;
static struct lkb_build_plan plan;
static struct lkb_plugin_set set;
static struct lkb_error err;

static void init(void)
{
    lkb_plugin_set_init(&set);
    cr_assert_eq(lkb_plugin_set_add_builtin(&set, lkb_builtin_plugin(), &err), 0, "%s", err.msg);
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
    cr_assert(lkb_format_is_builtin(plan.formats[0].fmt));
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
    cr_assert_null(plan.output_file); /* staged as n.tar, committed into out/ */
    cr_assert_str_eq(plan.dir, "out");
    cr_assert_str_eq(plan.name, "n");
}

Test(plan, streamable_must_be_alone)
{
    cr_assert_eq(PLAN("-format", "kernel+initrd,tar", "x.yml"), -1);
    cr_assert_str_eq(err.msg, "format type tar must be the only format specified");
}

Test(plan, output_refused_for_a_format_writing_several_files)
{
    cr_assert_eq(PLAN("-o", "f", "-format", "kernel+initrd", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "cannot be specified for build type kernel+initrd: it writes several "
                              "files (NAME-kernel, NAME-initrd.img, NAME-cmdline)"),
              "%s", err.msg);
}

Test(plan, output_file_for_any_single_file_format)
{
    cr_assert_eq(PLAN("-o", "out/x.tar", "-format", "tar-kernel-initrd", "x.yml"), 0, "%s", err.msg);
    cr_assert_str_eq(plan.output_file, "out/x.tar");
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-o", "f.img", "-format", "testfmt", "x.yml"), 0, "%s", err.msg);
    cr_assert_str_eq(plan.output_file, "f.img");
}

Test(plan, output_stdout_only_for_streamable)
{
    cr_assert_eq(PLAN("-o", "-", "-format", "tar-kernel-initrd", "x.yml"), -1);
    cr_assert(strstr(err.msg, "cannot be specified for build type tar-kernel-initrd as it cannot be "
                              "streamed"),
              "%s", err.msg);
}

Test(plan, output_with_several_formats_names_them)
{
    cr_assert_eq(PLAN("-o", "f", "-format", "testfmt,tar-kernel-initrd", "x.yml"), -1);
    cr_assert(strstr(err.msg, "single output format (got testfmt, tar-kernel-initrd"), "%s",
              err.msg);
}

Test(plan, output_with_name_rejected)
{
    cr_assert_eq(PLAN("-o", "f", "-name", "n", "x.yml"), -1);
    cr_assert(strstr(err.msg, "cannot be specified with -name"), "%s", err.msg);
}

Test(plan, plugin_format_found_and_unknown_lists_available)
{
    cr_assert_eq(PLAN("-format", "testfmt,kernel+initrd", "x.yml"), 0, "%s", err.msg);
    cr_assert_not(lkb_format_is_builtin(plan.formats[0].fmt));
    cr_assert_str_eq(plan.formats[0].fmt->plugin->desc.name, "good");
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-format", "nosuch", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "unknown format type nosuch (available: kernel+initrd, tar, docker, "
                              "tar-kernel-initrd, kernel+squashfs, kernel+erofs, testfmt, "
                              "testfail)"),
              "%s", err.msg);
}

Test(plan, unknown_format_names_refused_plugins)
{
    struct lkb_error e2;
    lkb_plugin_set_load_file(&set, LKB_TEST_BINARY_DIR "/test-plugins/wrong_abi.so", &e2);
    cr_assert_eq(PLAN("-format", "wrongabi", "x.yml"), -1);
    cr_assert(strstr(err.msg, "refused plugin") && strstr(err.msg, "wrong_abi.so"), "%s", err.msg);
}

Test(plan, input_tar_rules)
{
    cr_assert_eq(PLAN("-input-tar", "a.tar", "-pull", "x.yml"), -1);
    cr_assert_str_eq(err.msg, "cannot use -input-tar and -pull together");
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-input-tar", "a.tar", "-o", "a.tar", "x.yml"), -1);
    cr_assert_str_eq(err.msg, "input-tar and output file cannot be the same");
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-input-tar", "a.tar", "-o", "b.tar", "x.yml"), 0, "%s", err.msg);
}

Test(plan, repeated_format_built_once)
{
    cr_assert_eq(PLAN("-format", "testfmt", "-format", "testfmt", "x.yml"), 0, "%s", err.msg);
    cr_assert_eq(plan.n_formats, 1);
}

/* ---- -format-opt: declared, typed, namespaced (ABI 1.1) ---- */

static const struct lkb_option_value *val(size_t f, const char *name)
{
    for (size_t i = 0; i < plan.formats[f].n_values; i++)
        if (!strcmp(plan.formats[f].values[i].name, name))
            return &plan.formats[f].values[i];
    return NULL;
}

Test(plan, declared_options_get_values_and_defaults)
{
    cr_assert_eq(PLAN("-format", "testfmt", "-format-opt", "testfmt.count=3", "-format-opt",
                      "big=2G", "-format-opt", "flag=true", "x.yml"),
                 0, "%s", err.msg);
    cr_assert_eq(val(0, "count")->number, 3);
    cr_assert(val(0, "count")->given);
    cr_assert_eq(val(0, "big")->number, 2ull << 30);
    cr_assert_eq(val(0, "flag")->number, 1);
    cr_assert_str_eq(val(0, "greeting")->value, "hi");
    cr_assert_not(val(0, "greeting")->given);
    cr_assert_null(val(0, "image")->value);
}

Test(plan, ill_typed_option_fails_naming_format_and_option)
{
    cr_assert_eq(PLAN("-format", "testfmt", "-format-opt", "count=many", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "format testfmt option count") &&
                  strstr(err.msg, "not an unsigned decimal integer"),
              "%s", err.msg);
}

Test(plan, unknown_bare_option_lists_what_each_format_accepts)
{
    cr_assert_eq(PLAN("-format", "testfmt,kernel+initrd", "-format-opt", "colour=red", "x.yml"),
                 -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "no format of this build has an option 'colour'"), "%s", err.msg);
    cr_assert(strstr(err.msg, "testfmt accepts greeting (string), count (uint), big (size)"),
              "%s", err.msg);
    cr_assert(strstr(err.msg, "kernel+initrd accepts none"), "%s", err.msg);
}

Test(plan, unknown_namespaced_option_and_unbuilt_format)
{
    cr_assert_eq(PLAN("-format", "testfmt,kernel+initrd", "-format-opt", "kernel+initrd.count=1",
                      "x.yml"),
                 -1);
    cr_assert(strstr(err.msg, "format kernel+initrd has no option 'count'"), "%s", err.msg);
    lkb_build_plan_free(&plan);
    lkb_build_opts_free(&o);
    cr_assert_eq(PLAN("-format", "testfmt", "-format-opt", "rpi3.count=1", "x.yml"), -1);
    cr_assert(strstr(err.msg, "format rpi3 is not built by this command"), "%s", err.msg);
}

Test(plan, namespaced_value_beats_bare_one_in_any_order)
{
    cr_assert_eq(PLAN("-format", "testfmt", "-format-opt", "testfmt.greeting=a", "-format-opt",
                      "greeting=b", "x.yml"),
                 0, "%s", err.msg);
    cr_assert_str_eq(val(0, "greeting")->value, "a");
    cr_assert_eq(plan.formats[0].n_opts, 3, "1.0 view: greeting, big, flag");
    cr_assert_str_eq(plan.formats[0].opts[0].key, "greeting");
    cr_assert_str_eq(plan.formats[0].opts[0].value, "a");
}

Test(plan, abi_1_0_plugin_takes_any_option_unchecked)
{
    cr_assert_eq(lkb_plugin_set_load_file(
                     &set, LKB_TEST_SOURCE_DIR "/tests/plugins/abi-1.0/abi10.so", &err),
                 0, "%s", err.msg);
    cr_assert_eq(PLAN("-format", "abi10,testfmt", "-format-opt", "greeting=x", "-format-opt",
                      "abi10.anything=y", "x.yml"),
                 0, "%s", err.msg);
    cr_assert_eq(plan.formats[0].fmt->abi_minor, 0);
    cr_assert_eq(plan.formats[0].n_values, 0);
    cr_assert_eq(plan.formats[0].n_opts, 2);
    cr_assert_str_eq(val(1, "greeting")->value, "x");
}

Test(plan, option_values_must_not_be_empty_names)
{
    char *argv_[] = {"build", "-format-opt", "=x", "x.yml", NULL};
    cr_assert_eq(lkb_cli_parse_build(4, argv_, &o, &err), -1);
}
