/* Built "for a future ABI": exports only lkb_plugin_entry_v2. */
#include <stddef.h>
__attribute__((visibility("default"))) const void *lkb_plugin_entry_v2(const void *api);
const void *lkb_plugin_entry_v2(const void *api) { return api; }
