/* Typed values of declared format options (ABI 1.1): parsing a value of
 * an enum lkb_option_type, and describing what a format accepts. */
#ifndef LKB_PLUGIN_OPTIONS_H
#define LKB_PLUGIN_OPTIONS_H

#include <lkb/plugin.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* "string", "bool", "uint", "size". */
const char *lkb_option_type_name(uint32_t type);

/* Check `text` against `type` and fill *number for BOOL (0/1), UINT and
 * SIZE (bytes). The message says what the type wants. */
int lkb_option_parse(uint32_t type, const char *text, uint64_t *number, struct lkb_error *err);

/* "name (type), ..." of the declared options, or "none" - for messages.
 * Always NUL-terminates; truncates with "...". */
void lkb_option_describe(const struct lkb_option_decl *opts, size_t n, char *buf, size_t size);

#endif
