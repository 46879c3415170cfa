/* The raw output format. Work in progress: the plugin registers its format so
 * packaging and discovery are exercised, and refuses to build with a clear
 * message until the format is implemented (see the issue tracker). */
#include <lkb/plugin.h>

/* Refused in check(), so nothing is fetched or built for nothing. */
static int raw_refuse(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    (void)in;
    return api->set_error(host, "the raw format is not implemented yet in this version of lkb");
}

static const struct lkb_format raw_formats[] = {
    {.struct_size = sizeof(struct lkb_format),
     .name = "raw",
     .description = "raw bootable disk image",
     .build = raw_refuse,
     .check = raw_refuse},
};

static const struct lkb_plugin raw_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "raw",
    .version = "0.1",
    .formats = raw_formats,
    .n_formats = 1,
};

static const struct lkb_plugin *raw_entry(const struct lkb_host_api *api)
{
    (void)api;
    return &raw_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(raw_entry)
