/* References a symbol nothing provides: dlopen(RTLD_NOW) must fail cleanly. */
#include <lkb/plugin.h>
extern int lkb_symbol_that_does_not_exist(void);
static int b(const struct lkb_host_api *a, lkb_host *h, const struct lkb_build_input *i)
{
    (void)a; (void)h; (void)i;
    return lkb_symbol_that_does_not_exist();
}
static const struct lkb_format f[] = {{.struct_size = sizeof(struct lkb_format), .name = "unres", .build = b}};
static const struct lkb_plugin p = {.struct_size = sizeof p, .abi_version = LKB_PLUGIN_ABI_VERSION,
                                    .name = "unresolved", .formats = f, .n_formats = 1};
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &p;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
