/* Entry returns NULL: the plugin declines to load. */
#include <lkb/plugin.h>
static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return NULL;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
