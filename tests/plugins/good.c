/* A well-formed test plugin: format "testfmt" writes <base>.test with the
 * cmdline; format "testfail" fails with a message. */
#include <lkb/plugin.h>
#include <stdio.h>
#include <string.h>

static int good_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.test", in->output_base);
    const char *c = in->cmdline ? in->cmdline : "";
    return api->write_file_atomic(host, path, c, strlen(c));
}

static int fail_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    return api->set_error(host, "deliberate failure for %s", in->name);
}

static const struct lkb_format formats[] = {
    {.struct_size = sizeof(struct lkb_format), .name = "testfmt", .description = "test",
     .build = good_build},
    {.struct_size = sizeof(struct lkb_format), .name = "testfail", .description = "fails",
     .build = fail_build},
};

static const struct lkb_plugin plugin = {
    .struct_size = sizeof plugin, .abi_version = LKB_PLUGIN_ABI_VERSION, .name = "good",
    .version = "1", .formats = formats, .n_formats = 2};

static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
