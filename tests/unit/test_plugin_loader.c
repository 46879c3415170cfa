/* Plugin loading: good plugins load and build, every kind of broken plugin
 * is refused with a message naming the file, never called, never crashing. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/options.h"
#include "util/fs.h"

#define PLUGDIR LKB_TEST_BINARY_DIR "/test-plugins"

static struct lkb_plugin_set set;
static struct lkb_error err;

static void setup(void)
{
    lkb_plugin_set_init(&set);
    lkb_error_clear(&err);
}
static void teardown(void) { lkb_plugin_set_free(&set); }

TestSuite(loader, .init = setup, .fini = teardown);

static void expect_refused(const char *file, const char *needle)
{
    const char *path = PLUGDIR "/";
    char full[4096];
    snprintf(full, sizeof full, "%s%s", path, file);
    cr_assert_eq(lkb_plugin_set_load_file(&set, full, &err), -1, "%s should be refused", file);
    cr_assert_eq(err.kind, LKB_ERR_PLUGIN);
    cr_assert(strstr(err.msg, file) != NULL, "message names the file: %s", err.msg);
    cr_assert(strstr(err.msg, needle) != NULL, "message '%s' should contain '%s'", err.msg, needle);
    cr_assert_eq(set.n_plugins, 0);
    cr_assert_eq(set.n_formats, 0);
    cr_assert_eq(set.n_refused, 1);
    cr_assert(strstr(set.refused[0].path, file) != NULL);
}

Test(loader, good_plugin_loads_both_formats)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0, "%s", err.msg);
    cr_assert_eq(set.n_plugins, 1);
    cr_assert_eq(set.n_formats, 2);
    cr_assert_str_eq(set.plugins[0]->desc.name, "good");
    cr_assert_not_null(lkb_plugin_set_find(&set, "testfmt"));
    cr_assert_not_null(lkb_plugin_set_find(&set, "testfail"));
    cr_assert_null(lkb_plugin_set_find(&set, "nope"));
}

Test(loader, same_file_twice_is_loaded_once)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0);
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/../test-plugins/good.so", &err), 0);
    cr_assert_eq(set.n_plugins, 1);
    cr_assert_eq(set.n_refused, 0);
}

Test(loader, future_abi_entry_is_refused_naming_the_abi)
{
    expect_refused("abi_v2.so", "built for plugin ABI 2");
}

Test(loader, missing_entry_symbol_is_refused)
{
    expect_refused("no_entry.so", "missing entry symbol 'lkb_plugin_entry_v1'");
}

Test(loader, wrong_abi_version_in_descriptor_is_refused)
{
    expect_refused("wrong_abi.so", "declares ABI version 7, this lkb supports 1");
}

Test(loader, declining_plugin_is_refused) { expect_refused("declines.so", "returned NULL"); }

Test(loader, newer_sdk_struct_is_refused)
{
    expect_refused("too_new.so", "larger than this lkb knows");
}

Test(loader, unresolved_symbol_is_refused_not_crashed)
{
    expect_refused("unresolved.so", "lkb_symbol_that_does_not_exist");
}

Test(loader, invalid_format_name_is_refused) { expect_refused("bad_format.so", "invalid name"); }

Test(loader, option_default_of_the_wrong_type_is_refused)
{
    expect_refused("bad_option.so",
                   "format 'badopt' option 'disk-size': option default is not of the option's type");
}

Test(loader, unknown_input_request_is_refused)
{
    expect_refused("bad_inputs.so", "format 'badinputs' asks for inputs 0x80 this lkb does not know");
}

Test(loader, format_without_build_is_refused)
{
    expect_refused("no_build.so", "format 'nobuild' has no build function");
}

Test(loader, duplicate_format_name_is_refused_and_first_kept)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0);
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/dup_testfmt.so", &err), -1);
    cr_assert(strstr(err.msg, "dup_testfmt.so") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "duplicate format name 'testfmt'") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "good.so") != NULL, "names the first provider: %s", err.msg);
    cr_assert_eq(set.n_plugins, 1);
    cr_assert_str_eq(lkb_plugin_set_find(&set, "testfmt")->plugin->desc.name, "good");
}

Test(loader, garbage_file_is_refused)
{
    char *dir;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test", &dir, &err), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/garbage.so", dir);
    cr_assert_eq(lkb_fs_write_atomic(path, "not an ELF file at all", 22, 0644, &err), 0);
    cr_assert_eq(lkb_plugin_set_load_file(&set, path, &err), -1);
    cr_assert(strstr(err.msg, "garbage.so") && strstr(err.msg, "cannot load"), "%s", err.msg);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

Test(loader, directory_scan_loads_good_and_records_refusals)
{
    cr_assert_eq(lkb_plugin_set_load_dir(&set, PLUGDIR, &err), 0, "%s", err.msg);
    /* Sorted scan: dup_testfmt.so loads before good.so, so good.so is the
     * duplicate there. Either way exactly one provides testfmt. */
    cr_assert_not_null(lkb_plugin_set_find(&set, "testfmt"));
    size_t expected_refused = 0;
    const char *bad[] = {"abi_v2.so",        "no_entry.so",           "wrong_abi.so",
                         "declines.so",      "too_new.so",            "unresolved.so",
                         "bad_format.so",    "no_build.so",           "bad_option.so",
                         "bad_inputs.so",    "refuse_small_struct.so", "refuse_no_name.so",
                         "refuse_no_formats.so", "refuse_many_formats.so"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int found = 0;
        for (size_t j = 0; j < set.n_refused; j++)
            found |= strstr(set.refused[j].path, bad[i]) != NULL;
        cr_assert(found, "%s should be listed as refused", bad[i]);
        expected_refused++;
    }
    cr_assert_eq(set.n_refused, expected_refused + 1 /* the duplicate */);
}

Test(loader, missing_directory_is_not_an_error)
{
    cr_assert_eq(lkb_plugin_set_load_dir(&set, "/nonexistent/lkb/plugins", &err), 0);
    cr_assert_eq(set.n_plugins, 0);
}

Test(loader, discover_honours_search_path_order)
{
    /* good.so first via the path: the installed-dir scan then refuses
     * dup_testfmt.so as the duplicate. */
    cr_assert_eq(lkb_plugin_set_discover(&set, PLUGDIR "/good.so", PLUGDIR, &err), 0);
    cr_assert_str_eq(lkb_plugin_set_find(&set, "testfmt")->plugin->desc.name, "good");
}

static struct lkb_build_input sample_input(const char *base)
{
    struct lkb_build_input in = {
        .struct_size = sizeof in, .abi_version = LKB_PLUGIN_ABI_VERSION, .format = "testfmt",
        .arch = "amd64", .name = "sample", .output_base = base, .cmdline = "console=ttyS0"};
    return in;
}

Test(loader, build_runs_and_errors_are_attributed)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0);
    char *dir;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test", &dir, &err), 0);
    char base[4096], out[4200];
    snprintf(base, sizeof base, "%s/sample", dir);
    snprintf(out, sizeof out, "%s.test", base);
    struct lkb_build_input in = sample_input(base);

    in.output_dir = dir;
    struct lkb_host host;
    lkb_host_init(&host, "good");
    host.stage_dir = dir;
    cr_assert_eq(lkb_host_run_build(&host, lkb_plugin_set_find(&set, "testfmt"), &in, &err), 0,
                 "%s", err.msg);
    char *data;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(out, &data, &len, &err), 0);
    cr_assert_str_eq(data, "console=ttyS0");
    free(data);

    cr_assert_eq(lkb_host_run_build(&host, lkb_plugin_set_find(&set, "testfail"), &in, &err), -1);
    cr_assert_eq(err.kind, LKB_ERR_PLUGIN);
    cr_assert(strstr(err.msg, "format testfail (plugin ") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "deliberate failure for sample") != NULL, "%s", err.msg);
    lkb_host_cleanup(&host);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

Test(loader, host_api_table_is_versioned)
{
    const struct lkb_host_api *api = lkb_plugin_host_api();
    cr_assert_eq(api->abi_version, LKB_PLUGIN_ABI_VERSION);
    cr_assert_eq(api->struct_size, sizeof(struct lkb_host_api));
    cr_assert(LKB_API_HAS(api, free));
    cr_assert(LKB_API_HAS(api, image_read_file));
    cr_assert(LKB_API_HAS(api, output_open));
    cr_assert(LKB_API_HAS(api, require_image));
}

#define ABI10 LKB_TEST_SOURCE_DIR "/tests/plugins/abi-1.0/abi10.so"

/* Build format f (of plugin `plugin`) into a temp dir with option
 * greeting=GREETING; returns the content of old.EXT (malloc'd). */
static char *build_old_format(const struct lkb_loaded_format *f, const char *plugin,
                              const char *ext, const char *greeting)
{
    char *dir;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test", &dir, &err), 0);
    char base[4096], out[4200];
    snprintf(base, sizeof base, "%s/old", dir);
    snprintf(out, sizeof out, "%s.%s", base, ext);
    struct lkb_build_input in = sample_input(base);
    in.format = f->fmt.name;
    struct lkb_option opt = {"greeting", greeting};
    in.options = &opt;
    in.n_options = 1;
    struct lkb_host host;
    lkb_host_init(&host, plugin);
    host.options = &opt;
    host.n_options = 1;
    host.stage_dir = dir;
    cr_assert_eq(lkb_host_run_build(&host, f, &in, &err), 0, "%s", err.msg);
    char *data;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(out, &data, &len, &err), 0, "%s", err.msg);
    lkb_host_cleanup(&host);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
    return data;
}

Test(loader, prebuilt_abi_1_0_plugin_loads_and_builds)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, ABI10, &err), 0, "%s", err.msg);
    const struct lkb_loaded_format *f = lkb_plugin_set_find(&set, "abi10");
    cr_assert_not_null(f);
    cr_assert_eq(f->abi_minor, 0);
    cr_assert_null(f->fmt.check);
    cr_assert_null(f->fmt.data);
    cr_assert_eq(f->fmt.n_options, 0);
    char *data = build_old_format(f, "abi10", "abi10", "hello from 1.1");
    cr_assert(strstr(data, "greeting: hello from 1.1\n") && strstr(data, "cmdline: console=ttyS0"),
              "%s", data);
    free(data);
}

Test(loader, abi_1_1_declarations_are_normalized)
{
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0, "%s", err.msg);
    const struct lkb_loaded_format *f = lkb_plugin_set_find(&set, "testfmt");
    cr_assert_eq(f->abi_minor, 1);
    cr_assert_not_null(f->fmt.check);
    cr_assert_eq(f->fmt.n_options, 5);
    cr_assert_eq(f->fmt.options, f->options, "the host reads its own copy");
    cr_assert_str_eq(f->fmt.options[2].name, "big");
    cr_assert_eq(f->fmt.options[2].type, LKB_OPT_SIZE);
    cr_assert_str_eq(f->fmt.options[2].default_value, "1M");
}

Test(loader, builtin_names_cannot_be_taken_by_plugins)
{
    static const struct lkb_format fmts[] = {
        {.struct_size = sizeof(struct lkb_format), .name = "testfmt", .build = NULL}};
    static const struct lkb_plugin p = {sizeof p, LKB_PLUGIN_ABI_VERSION, "x", "1", fmts, 1};
    cr_assert_eq(lkb_plugin_set_add_builtin(&set, &p, &err), -1, "no build function");
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/good.so", &err), 0, "%s", err.msg);
}

Test(loader, outputs_are_plain_names_in_the_staging_dir)
{
    const struct lkb_host_api *api = lkb_plugin_host_api();
    struct lkb_host host;
    lkb_host_init(&host, "t");
    int fd = -1;
    cr_assert_eq(api->output_open(&host, "x.img", &fd), LKB_FAIL, "no staging dir outside build");
    char *dir;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test", &dir, &err), 0);
    host.stage_dir = dir;
    const char *bad[] = {"", ".", "..", "a/b", "../x", ".lkb-staging-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(api->output_open(&host, bad[i], &fd), LKB_FAIL, "'%s' accepted", bad[i]);
        cr_assert_eq(host.err.kind, LKB_ERR_USAGE);
    }
    cr_assert_eq(api->output_open(&host, "x.img", &fd), LKB_OK, "%s", host.err.msg);
    close(fd);
    cr_assert_eq(api->output_open(&host, "x.img", &fd), LKB_FAIL, "written twice");
    cr_assert(strstr(host.err.msg, "already written"), "%s", host.err.msg);
    char *p = NULL;
    cr_assert_eq(api->output_path(&host, "y.img", &p), LKB_OK);
    cr_assert(strncmp(p, dir, strlen(dir)) == 0 && !strcmp(p + strlen(dir), "/y.img"), "%s", p);
    api->free(p);
    cr_assert_eq(api->require_image(&host, "x/y:1"), LKB_FAIL, "require_image outside check");
    cr_assert(strstr(host.err.msg, "only allowed in check()"), "%s", host.err.msg);
    lkb_host_cleanup(&host); /* the output names it handed out */
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

Test(loader, two_formats_cannot_write_one_output)
{
    const struct lkb_host_api *api = lkb_plugin_host_api();
    struct lkb_host host;
    lkb_host_init(&host, "t");
    char *dir, *p = NULL;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test", &dir, &err), 0);
    host.stage_dir = dir;
    host.format_name = "vhd";
    cr_assert_eq(api->output_path(&host, "sys.vhd", &p), LKB_OK, "%s", host.err.msg);
    api->free(p);
    cr_assert_eq(api->output_path(&host, "sys.vhd", &p), LKB_OK, "the same format may ask again");
    api->free(p);
    host.format_name = "dynamic-vhd";
    cr_assert_eq(api->output_path(&host, "sys.vhd", &p), LKB_FAIL, "second format took sys.vhd");
    cr_assert_eq(host.err.kind, LKB_ERR_USAGE);
    cr_assert(strstr(host.err.msg, "also written by format vhd"), "%s", host.err.msg);
    int fd = -1;
    cr_assert_eq(api->output_open(&host, "sys.vhd", &fd), LKB_FAIL, "open takes the same claim");
    cr_assert_eq(api->output_open(&host, "sys-other.vhd", &fd), LKB_OK, "%s", host.err.msg);
    close(fd);
    lkb_host_cleanup(&host);
    cr_assert_eq(host.n_outputs, 0);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
}

Test(loader, error_kinds_choose_the_exit_code)
{
    const struct lkb_host_api *api = lkb_plugin_host_api();
    struct lkb_host host;
    lkb_host_init(&host, "t");
    cr_assert_eq(api->set_error_kind(&host, LKB_PLUGIN_ERR_USAGE, "bad %s", "x"), LKB_FAIL);
    cr_assert_eq(host.err.kind, LKB_ERR_USAGE);
    cr_assert_str_eq(host.err.msg, "bad x");
    api->set_error_kind(&host, LKB_PLUGIN_ERR_IO, "disk");
    cr_assert_eq(host.err.kind, LKB_ERR_IO);
    api->set_error(&host, "plain");
    cr_assert_eq(host.err.kind, LKB_ERR_PLUGIN);
}

Test(loader, temp_dirs_are_removed_after_build)
{
    struct lkb_host host;
    lkb_host_init(&host, "t");
    const struct lkb_host_api *api = lkb_plugin_host_api();
    char *p = NULL;
    cr_assert_eq(api->make_temp_dir(&host, &p), LKB_OK);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    lkb_host_cleanup(&host);
    cr_assert_eq(stat(p, &st), -1, "temp dir %s should be gone", p);
    api->free(p);
}

Test(loader, image_access_without_store_fails_cleanly)
{
    struct lkb_host host;
    lkb_host_init(&host, "t");
    const struct lkb_host_api *api = lkb_plugin_host_api();
    void *data = NULL;
    size_t n = 0;
    cr_assert_eq(api->image_read_file(&host, "x/y:1", "kernel", &data, &n), LKB_FAIL);
    cr_assert(strstr(host.err.msg, "no image store") != NULL, "%s", host.err.msg);
    cr_assert_null(data);
}

Test(loader, option_values_are_parsed_by_type)
{
    uint64_t n;
    cr_assert_eq(lkb_option_parse(LKB_OPT_SIZE, "64K", &n, &err), 0);
    cr_assert_eq(n, 65536);
    cr_assert_eq(lkb_option_parse(LKB_OPT_SIZE, "3G", &n, &err), 0);
    cr_assert_eq(n, 3ull << 30);
    cr_assert_eq(lkb_option_parse(LKB_OPT_SIZE, "4096", &n, &err), 0);
    cr_assert_eq(n, 4096);
    const char *bad_sizes[] = {"", "M", "1T", "1 M", "-1", "1.5G", "99999999999999999999G"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++)
        cr_assert_eq(lkb_option_parse(LKB_OPT_SIZE, bad_sizes[i], &n, &err), -1, "%s",
                     bad_sizes[i]);
    cr_assert_eq(lkb_option_parse(LKB_OPT_SIZE, "17179869184G", &n, &err), -1, "overflow");
    cr_assert(strstr(err.msg, "too large"), "%s", err.msg);
    cr_assert_eq(lkb_option_parse(LKB_OPT_BOOL, "true", &n, &err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(lkb_option_parse(LKB_OPT_BOOL, "0", &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(lkb_option_parse(LKB_OPT_BOOL, "yes", &n, &err), -1);
    cr_assert_eq(lkb_option_parse(LKB_OPT_UINT, "12", &n, &err), 0);
    cr_assert_eq(n, 12);
    cr_assert_eq(lkb_option_parse(LKB_OPT_UINT, "12M", &n, &err), -1);
    cr_assert_eq(lkb_option_parse(LKB_OPT_STRING, "", &n, &err), 0);
    char buf[32];
    struct lkb_option_decl d[] = {{sizeof *d, LKB_OPT_SIZE, "disk-size", NULL, ""},
                                  {sizeof *d, LKB_OPT_BOOL, "verbose-boot", NULL, ""}};
    lkb_option_describe(d, 2, buf, sizeof buf);
    cr_assert_str_eq(buf, "disk-size (size), verbose-bo...", "truncated with ...: %s", buf);
    cr_assert_eq(strlen(buf), sizeof buf - 1);
    lkb_option_describe(d, 0, buf, sizeof buf);
    cr_assert_str_eq(buf, "none");
}

/* ---- issue 18: ABI 1.0 from source, refusals with a call detector ---- */

/* Point the fixtures' call detector (tests/plugins/call_marker.h) at a
 * fresh file; returns its path (static). */
static const char *call_marker(void)
{
    static char path[4096];
    char *dir;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-marker", &dir, &err), 0, "%s", err.msg);
    int n = snprintf(path, sizeof path, "%s/calls", dir);
    cr_assert(n > 0 && (size_t)n < sizeof path);
    free(dir);
    cr_assert_eq(setenv("LKB_TEST_CALL_MARKER", path, 1), 0);
    return path;
}

/* What the fixtures recorded: "" when nothing was called. */
static char *calls(const char *marker)
{
    char *data = NULL;
    size_t len;
    struct lkb_error e;
    if (access(marker, F_OK) != 0)
        return strdup("");
    cr_assert_eq(lkb_fs_read_file(marker, &data, &len, &e), 0, "%s", e.msg);
    return data;
}

static void remove_marker(const char *marker)
{
    unlink(marker);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", marker);
    *strrchr(dir, '/') = '\0';
    rmdir(dir);
}

Test(loader, abi_1_0_layout_built_from_source_loads_and_builds)
{
    const char *marker = call_marker();
    cr_assert_eq(lkb_plugin_set_load_file(&set, PLUGDIR "/abi10_src.so", &err), 0, "%s", err.msg);
    const struct lkb_loaded_format *f = lkb_plugin_set_find(&set, "abi10src");
    cr_assert_not_null(f);
    /* The fixture really is ABI 1.0-sized: its format ends at build. */
    size_t size_1_0 = offsetof(struct lkb_format, build) + sizeof(void (*)(void));
    cr_assert_eq(f->fmt.struct_size, size_1_0);
    cr_assert_lt(size_1_0, sizeof(struct lkb_format));
    cr_assert_eq(f->abi_minor, 0);
    /* the 1.1 members the plugin lacks read as zero */
    cr_assert_null(f->fmt.check);
    cr_assert_null(f->fmt.data);
    cr_assert_null(f->fmt.options);
    cr_assert_eq(f->fmt.inputs, 0);
    char *c = calls(marker);
    cr_assert_str_eq(c, "abi10src entry\n");
    free(c);

    char *data = build_old_format(f, "abi10src", "abi10src", "hello");
    char want[512];
    snprintf(want, sizeof want,
             "format: abi10src\narch: amd64\nname: sample\ngreeting: hello\ncmdline: "
             "console=ttyS0\napi: %zu\n",
             sizeof(struct lkb_host_api));
    cr_assert_str_eq(data, want);
    free(data);
    c = calls(marker);
    cr_assert_str_eq(c, "abi10src entry\nabi10src build\n");
    free(c);
    remove_marker(marker);
}

/* Refused with `needle`, and the fixture recorded exactly `want_calls`. */
static void expect_refused_calls(const char *file, const char *needle, const char *want_calls,
                                 const char *format)
{
    const char *marker = call_marker();
    expect_refused(file, needle);
    cr_assert_null(lkb_plugin_set_find(&set, format), "a refused plugin's format is not listed");
    char *c = calls(marker);
    cr_assert_str_eq(c, want_calls, "%s: the host called more than it should", file);
    free(c);
    remove_marker(marker);
}

Test(loader, future_abi_is_refused_without_calling_anything)
{
    expect_refused_calls("abi_v2.so", "built for plugin ABI 2", "", "-");
}

Test(loader, too_small_struct_size_is_refused_and_nothing_else_called)
{
    expect_refused_calls("refuse_small_struct.so",
                         "struct lkb_plugin: struct_size is smaller than the ABI 1.0 struct",
                         "small_struct entry\n", "smallstruct");
}

Test(loader, nameless_plugin_is_refused_and_nothing_else_called)
{
    expect_refused_calls("refuse_no_name.so", "plugin has no name", "no_name entry\n", "noname");
}

Test(loader, plugin_without_formats_is_refused)
{
    expect_refused_calls("refuse_no_formats.so", "plugin provides no formats",
                         "no_formats entry\n", "-");
}

Test(loader, too_many_formats_are_refused_and_nothing_else_called)
{
    expect_refused_calls("refuse_many_formats.so", "plugin claims 257 formats",
                         "many_formats entry\n", "many");
}

/* The scan of the whole fixture directory calls only entry points: no
 * refused plugin's check or build runs while loading. */
Test(loader, loading_calls_only_entry_points)
{
    const char *marker = call_marker();
    cr_assert_eq(lkb_plugin_set_load_dir(&set, PLUGDIR, &err), 0, "%s", err.msg);
    char *c = calls(marker);
    cr_assert_not(strstr(c, "build") || strstr(c, "check"), "called while loading: %s", c);
    cr_assert_not(strstr(c, "abi_v2"), "the v2 entry was called: %s", c);
    cr_assert(strstr(c, "abi10src entry\n") && strstr(c, "many_formats entry\n"), "%s", c);
    free(c);
    remove_marker(marker);
}
