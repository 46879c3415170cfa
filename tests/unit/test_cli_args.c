/* LinuxKit flag spellings and values for `lkb build`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static struct lkb_build_opts o;
static struct lkb_error err;

#define PARSE(...)                                                                             \
    ({                                                                                         \
        char *argv_[] = {"build", __VA_ARGS__, NULL};                                          \
        lkb_cli_parse_build((int)(sizeof argv_ / sizeof *argv_) - 1, argv_, &o, &err);         \
    })

static void fini(void) { lkb_build_opts_free(&o); }
TestSuite(args, .fini = fini);

Test(args, single_and_double_dash_and_equals)
{
    cr_assert_eq(PARSE("-format", "rpi3", "--format=iso", "-format=raw,tar", "x.yml"), 0, "%s",
                 err.msg);
    cr_assert_eq(o.n_formats, 4);
    cr_assert_str_eq(o.formats[0], "rpi3");
    cr_assert_str_eq(o.formats[1], "iso");
    cr_assert_str_eq(o.formats[2], "raw");
    cr_assert_str_eq(o.formats[3], "tar");
    cr_assert_eq(o.n_configs, 1);
    cr_assert_str_eq(o.configs[0], "x.yml");
}

Test(args, all_linuxkit_flags_accepted)
{
    cr_assert_eq(PARSE("-o", "out.tar", "-dir", "d", "-name", "n", "-arch", "arm64", "-size",
                       "512M", "-pull", "-cache", "/c", "-decompress-kernel", "-no-sbom",
                       "--sbom-output=s.json", "-sbom-current-time", "a.yml", "b.yml"),
                 0, "%s", err.msg);
    cr_assert_str_eq(o.output, "out.tar");
    cr_assert_str_eq(o.dir, "d");
    cr_assert_str_eq(o.name, "n");
    cr_assert_str_eq(o.arch, "arm64");
    cr_assert_eq(o.size_bytes, 512ull << 20);
    cr_assert(o.size_set);
    cr_assert(o.pull);
    cr_assert_str_eq(o.cache_dir, "/c");
    cr_assert(o.decompress_kernel);
    cr_assert(o.no_sbom);
    cr_assert(o.sbom_current_time);
    cr_assert_str_eq(o.sbom_output, "s.json");
    cr_assert_eq(o.n_configs, 2);
}

Test(args, configs_may_come_before_flags)
{
    cr_assert_eq(PARSE("a.yml", "-format", "tar", "b.yml", "--pull"), 0, "%s", err.msg);
    cr_assert_eq(o.n_configs, 2);
    cr_assert_str_eq(o.configs[0], "a.yml");
    cr_assert_str_eq(o.configs[1], "b.yml");
    cr_assert(o.pull);
}

Test(args, bool_takes_only_attached_value)
{
    cr_assert_eq(PARSE("-pull=false", "-dry-run=true", "-pull", "true"), 0, "%s", err.msg);
    cr_assert(o.pull, "the later bare -pull wins");
    cr_assert(o.dry_run);
    /* "true" after a bare bool is a positional config file, as in Go. */
    cr_assert_eq(o.n_configs, 1);
    cr_assert_str_eq(o.configs[0], "true");
}

Test(args, bad_bool_is_usage_error)
{
    cr_assert_eq(PARSE("-pull=maybe", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "-pull") && strstr(err.msg, "maybe"), "%s", err.msg);
}

Test(args, unknown_flag_is_usage_error)
{
    cr_assert_eq(PARSE("-frobnicate", "x.yml"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "-frobnicate") != NULL, "%s", err.msg);
}

Test(args, missing_value_is_usage_error)
{
    cr_assert_eq(PARSE("x.yml", "-format"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(err.msg, "-format") && strstr(err.msg, "needs a value"), "%s", err.msg);
}

Test(args, no_config_is_usage_error)
{
    cr_assert_eq(PARSE("-format", "tar"), -1);
    cr_assert_eq(err.kind, LKB_ERR_USAGE);
}

Test(args, format_opts_collected)
{
    cr_assert_eq(PARSE("-format-opt", "firmware=/x", "--format-opt=a=b=c", "y.yml"), 0);
    cr_assert_eq(o.n_format_opts, 2);
    cr_assert_str_eq(o.format_opts[0].key, "firmware");
    cr_assert_str_eq(o.format_opts[0].value, "/x");
    cr_assert_str_eq(o.format_opts[1].key, "a");
    cr_assert_str_eq(o.format_opts[1].value, "b=c");
    lkb_build_opts_free(&o);
    cr_assert_eq(PARSE("-format-opt", "novalue", "y.yml"), -1);
}

Test(args, empty_format_element_rejected)
{
    cr_assert_eq(PARSE("-format", "tar,,iso", "y.yml"), -1);
    cr_assert(strstr(err.msg, "empty format") != NULL, "%s", err.msg);
}

Test(args, size_syntax_matches_linuxkit)
{
    uint64_t b;
    cr_assert_eq(lkb_cli_parse_size("512M", &b, &err), 0);
    cr_assert_eq(b, 512ull << 20);
    cr_assert_eq(lkb_cli_parse_size("2G", &b, &err), 0);
    cr_assert_eq(b, 2ull << 30);
    cr_assert_eq(lkb_cli_parse_size("3", &b, &err), 0);
    cr_assert_eq(b, 3ull << 30);
    cr_assert_eq(lkb_cli_parse_size("", &b, &err), 0);
    cr_assert_eq(b, 0);
    cr_assert_eq(lkb_cli_parse_size("12K", &b, &err), -1);
    cr_assert_eq(lkb_cli_parse_size("-1G", &b, &err), -1);
    cr_assert_eq(lkb_cli_parse_size("99999999999999999999G", &b, &err), -1);
}

Test(args, default_size_is_1024M)
{
    cr_assert_eq(PARSE("x.yml"), 0);
    cr_assert_eq(o.size_bytes, 1024ull << 20);
    cr_assert(!o.size_set);
}

Test(args, fetch_limits_in_whole_seconds)
{
    cr_assert_eq(PARSE("-fetch-timeout", "5", "--fetch-deadline=120", "x.yml"), 0, "%s", err.msg);
    cr_assert_eq(o.fetch_timeout_s, 5);
    cr_assert_eq(o.fetch_deadline_s, 120);
    lkb_build_opts_free(&o);
    static const char *const bad[] = {"0", "-1", "1.5", "5s", "", "86401"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "-fetch-timeout=%s", bad[i]);
        cr_assert_eq(PARSE(arg, "x.yml"), -1, "%s accepted", arg);
        cr_assert_eq(err.kind, LKB_ERR_USAGE);
        cr_assert(strstr(err.msg, "whole seconds"), "%s", err.msg);
        lkb_build_opts_free(&o);
    }
}
