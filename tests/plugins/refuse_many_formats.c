/* 257 formats, one more than the host accepts: refused after the entry,
 * no format called. The array is real (all named "many"), so a host that
 * read it would refuse a duplicate name instead: the message tells which. */
#include <lkb/plugin.h>

#include "call_marker.h"

#define N_FORMATS 257

LKB_TEST_MARKED_CALLBACKS("many_formats")

static struct lkb_format formats[N_FORMATS];
static const struct lkb_plugin plugin = {.struct_size = sizeof plugin,
                                         .abi_version = LKB_PLUGIN_ABI_VERSION,
                                         .name = "many_formats", .formats = formats,
                                         .n_formats = N_FORMATS};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    lkb_test_mark("many_formats entry");
    for (size_t i = 0; i < N_FORMATS; i++)
        formats[i] = (struct lkb_format){.struct_size = sizeof(struct lkb_format),
                                         .name = "many", .build = build, .check = check};
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
