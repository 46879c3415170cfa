#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* jansson's indented output already matches Go's MarshalIndent layout
 * (4 spaces, `"key": value`, `[]`/`{}` when empty); Go additionally
 * escapes <, > and & (HTML-safe), which can only occur inside strings, so
 * a byte-level pass is enough. */
char *lkb_json_go_dumps(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    if (!s)
        return NULL;
    size_t extra = 0;
    for (const char *p = s; *p; p++)
        if (*p == '<' || *p == '>' || *p == '&')
            extra += 5;
    if (!extra)
        return s;
    char *out = malloc(strlen(s) + extra + 1), *o = out;
    if (!out) {
        free(s);
        return NULL;
    }
    for (const char *p = s; *p; p++) {
        const char *rep = *p == '<' ? "\\u003c" : *p == '>' ? "\\u003e" : *p == '&' ? "\\u0026" : NULL;
        if (rep) {
            memcpy(o, rep, 6);
            o += 6;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    free(s);
    return out;
}
