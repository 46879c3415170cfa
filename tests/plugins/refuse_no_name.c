/* A plugin without a name: refused after the entry, never called again. */
#include <lkb/plugin.h>

#include "call_marker.h"

LKB_TEST_MARKED_CALLBACKS("no_name")

static const struct lkb_format formats[] = {{.struct_size = sizeof(struct lkb_format),
                                             .name = "noname", .build = build,
                                             .check = check}};
static const struct lkb_plugin plugin = {.struct_size = sizeof plugin,
                                         .abi_version = LKB_PLUGIN_ABI_VERSION, .name = "",
                                         .formats = formats, .n_formats = 1};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    lkb_test_mark("no_name entry");
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
