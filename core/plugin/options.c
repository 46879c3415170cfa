#include "plugin/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lkb_option_type_name(uint32_t type)
{
    switch (type) {
    case LKB_OPT_STRING:
        return "string";
    case LKB_OPT_BOOL:
        return "bool";
    case LKB_OPT_UINT:
        return "uint";
    case LKB_OPT_SIZE:
        return "size";
    }
    return "?";
}

static int parse_uint(const char *s, uint64_t *out, const char **end)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    *end = e;
    return 0;
}

int lkb_option_parse(uint32_t type, const char *text, uint64_t *number, struct lkb_error *err)
{
    const char *end = NULL;
    uint64_t v = 0;
    *number = 0;
    switch (type) {
    case LKB_OPT_STRING:
        return 0;
    case LKB_OPT_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1"))
            return *number = 1, 0;
        if (!strcmp(text, "false") || !strcmp(text, "0"))
            return 0;
        return lkb_error_set(err, LKB_ERR_USAGE, "\"%s\" is not a bool (want true or false)",
                             text);
    case LKB_OPT_UINT:
        if (parse_uint(text, &v, &end) < 0 || *end)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "\"%s\" is not an unsigned decimal integer", text);
        return *number = v, 0;
    case LKB_OPT_SIZE: {
        unsigned shift = 0;
        if (parse_uint(text, &v, &end) == 0) {
            if (!strcmp(end, "K"))
                shift = 10;
            else if (!strcmp(end, "M"))
                shift = 20;
            else if (!strcmp(end, "G"))
                shift = 30;
            else if (*end)
                end = NULL;
        }
        if (!end)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "\"%s\" is not a size (want bytes, or e.g. 64K, 512M, 2G)", text);
        if (shift && v > (UINT64_MAX >> shift))
            return lkb_error_set(err, LKB_ERR_USAGE, "size \"%s\" is too large", text);
        return *number = v << shift, 0;
    }
    }
    return lkb_error_set(err, LKB_ERR_INTERNAL, "unknown option type %u", type);
}

void lkb_option_describe(const struct lkb_option_decl *opts, size_t n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    if (!n) {
        snprintf(buf, size, "none");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + len, size - len, "%s%s (%s)", i ? ", " : "", opts[i].name,
                         lkb_option_type_name(opts[i].type));
        if (w < 0 || (size_t)w >= size - len) {
            if (size > 4)
                memcpy(buf + size - 4, "...", 4);
            return;
        }
        len += (size_t)w;
    }
}
