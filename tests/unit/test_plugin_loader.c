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
    const char *bad[] = {"abi_v2.so", "no_entry.so", "wrong_abi.so", "declines.so",
                         "too_new.so", "unresolved.so", "bad_format.so", "no_build.so"};
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

    struct lkb_host host;
    lkb_host_init(&host, "good");
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
