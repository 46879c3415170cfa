/* Small string and JSON helpers used across core/oci. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "oci/internal.h"

char *oci_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

const char *oci_json_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int64_t oci_json_int(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}
