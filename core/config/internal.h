/* Shared between the config module's files; not a public interface. */
#ifndef LKB_CONFIG_INTERNAL_H
#define LKB_CONFIG_INTERNAL_H

#include <jansson.h>

#include "config/config.h"
#include "config/yamltree.h"

/* Validation of one document: diagnostics are collected, not fatal. */
struct lkb_cfg_ctx {
    struct lkb_config *cfg; /* receives locations of created values */
    const char *file;       /* interned name */
    char **diags;
    size_t n_diags;
    int oom;
};

void lkb_cfg_diag(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lkb_cfg_remember(struct lkb_cfg_ctx *ctx, const json_t *value, const struct lkb_ynode *at);
/* The location of parent's member key (needed for true/false/null). */
void lkb_cfg_remember_key(struct lkb_cfg_ctx *ctx, const json_t *parent, const char *key,
                          const struct lkb_ynode *at);
/* The location of a value, or of parent's member key; 0 if unknown. */
int lkb_cfg_find_loc(const struct lkb_config *cfg, const json_t *parent, const char *key,
                     const json_t *node, const struct lkb_config_loc **out);

/* Validate the document root against LinuxKit's schema and convert it.
 * Returns the document as an object (sections present only when given),
 * or NULL when there were diagnostics. */
json_t *lkb_cfg_schema_root(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *root);

/* Validate an org.mobyproject.config label document as an image entry
 * without name/image. */
json_t *lkb_cfg_schema_label(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *root);

/* Parse an octal mode string ("0644", "755"); -1 if invalid. */
long lkb_cfg_parse_mode(const char *s);

#endif
