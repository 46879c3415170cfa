/* Small string and JSON helpers used across core/oci. */
#include <stdlib.h>

#include "oci/internal.h"

const char *oci_json_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int64_t oci_json_int(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}
