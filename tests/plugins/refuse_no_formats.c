/* A plugin that provides no formats: refused after the entry. */
#include <lkb/plugin.h>

#include "call_marker.h"

static const struct lkb_plugin plugin = {.struct_size = sizeof plugin,
                                         .abi_version = LKB_PLUGIN_ABI_VERSION,
                                         .name = "no_formats", .formats = NULL, .n_formats = 0};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    lkb_test_mark("no_formats entry");
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
