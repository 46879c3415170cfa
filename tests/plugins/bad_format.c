/* Format with an invalid name. */
#include <lkb/plugin.h>
static const struct lkb_format f[] = {{.struct_size = sizeof(struct lkb_format), .name = "Bad Name", .build = NULL}};
static const struct lkb_plugin p = {.struct_size = sizeof p, .abi_version = LKB_PLUGIN_ABI_VERSION,
                                    .name = "bad_format", .formats = f, .n_formats = 1};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &p;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
