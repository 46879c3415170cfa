/* Descriptor larger than this host knows: built against a newer SDK. */
#include <lkb/plugin.h>
struct future_plugin {
    struct lkb_plugin base;
    void *extra[4];
};
static int b(const struct lkb_host_api *a, lkb_host *h, const struct lkb_build_input *i)
{
    (void)a; (void)h; (void)i;
    return 0;
}
static const struct lkb_format f[] = {{.struct_size = sizeof(struct lkb_format), .name = "toonew", .build = b}};
static const struct future_plugin p = {
    .base = {.struct_size = sizeof(struct future_plugin), .abi_version = LKB_PLUGIN_ABI_VERSION,
             .name = "too_new", .formats = f, .n_formats = 1}};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &p.base;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
