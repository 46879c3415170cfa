/* ABI 1.1 plugin whose option default is not of the option's type. */
#include <lkb/plugin.h>

static int build(const struct lkb_host_api *api, lkb_host *host, const struct lkb_build_input *in)
{
    (void)in;
    return api->set_error(host, "never called");
}

static const struct lkb_option_decl options[] = {
    {sizeof(struct lkb_option_decl), LKB_OPT_SIZE, "disk-size", "huge", "a size"},
};

static const struct lkb_format formats[] = {
    {.struct_size = sizeof(struct lkb_format), .name = "badopt", .build = build,
     .options = options, .n_options = 1},
};

static const struct lkb_plugin plugin = {sizeof plugin, LKB_PLUGIN_ABI_VERSION, "badopt", "1",
                                         formats, 1};

static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
