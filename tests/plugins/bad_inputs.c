/* ABI 1.1 plugin asking for an input this lkb does not know. */
#include <lkb/plugin.h>

static int build(const struct lkb_host_api *api, lkb_host *host, const struct lkb_build_input *in)
{
    (void)in;
    return api->set_error(host, "never called");
}

static const struct lkb_format formats[] = {
    {.struct_size = sizeof(struct lkb_format), .name = "badinputs", .build = build,
     .inputs = 0x80},
};

static const struct lkb_plugin plugin = {sizeof plugin, LKB_PLUGIN_ABI_VERSION, "badinputs", "1",
                                         formats, 1};

static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
