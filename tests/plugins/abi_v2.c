/* Built "for a future ABI": exports only lkb_plugin_entry_v2, which marks
 * a call: the host must refuse it without calling anything. */
#include <stddef.h>

#include "call_marker.h"

__attribute__((visibility("default"))) const void *lkb_plugin_entry_v2(const void *api);
const void *lkb_plugin_entry_v2(const void *api)
{
    lkb_test_mark("abi_v2 entry");
    return api;
}
