/* struct lkb_plugin with a struct_size smaller than ABI 1.0's: refused
 * after the entry, its format never called. */
#include <lkb/plugin.h>

#include "call_marker.h"

LKB_TEST_MARKED_CALLBACKS("small_struct")

static const struct lkb_format formats[] = {{.struct_size = sizeof(struct lkb_format),
                                             .name = "smallstruct", .build = build,
                                             .check = check}};
static const struct lkb_plugin plugin = {.struct_size = 8, /* struct_size + abi_version */
                                         .abi_version = LKB_PLUGIN_ABI_VERSION,
                                         .name = "small_struct", .formats = formats,
                                         .n_formats = 1};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    lkb_test_mark("small_struct entry");
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
