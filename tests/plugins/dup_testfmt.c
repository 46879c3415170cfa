/* Provides "testfmt" again: must be refused after good.so is loaded. */
#include <lkb/plugin.h>
static int b(const struct lkb_host_api *a, lkb_host *h, const struct lkb_build_input *i)
{
    (void)a; (void)h; (void)i;
    return 0;
}
static const struct lkb_format f[] = {{.struct_size = sizeof(struct lkb_format), .name = "testfmt", .build = b}};
static const struct lkb_plugin p = {.struct_size = sizeof p, .abi_version = LKB_PLUGIN_ABI_VERSION,
                                    .name = "dup", .formats = f, .n_formats = 1};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &p;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
