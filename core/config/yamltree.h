/* A located YAML tree: libyaml's document API resolved into typed nodes
 * that remember their line:column, with go-yaml v3's scalar typing,
 * merge keys and duplicate-key detection (yaml.md §1 step 2). */
#ifndef LKB_CONFIG_YAMLTREE_H
#define LKB_CONFIG_YAMLTREE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum lkb_ynode_kind { LKB_Y_NULL, LKB_Y_BOOL, LKB_Y_INT, LKB_Y_FLOAT, LKB_Y_STR, LKB_Y_SEQ, LKB_Y_MAP };

struct lkb_ynode {
    enum lkb_ynode_kind kind;
    int line, col; /* 1-based */
    char *text;    /* scalars: the source text (strings: the value) */
    int64_t ival;  /* LKB_Y_INT */
    double fval;   /* LKB_Y_FLOAT */
    int bval;      /* LKB_Y_BOOL */
    size_t n;      /* SEQ items / MAP pairs */
    struct lkb_ynode **items; /* SEQ: items; MAP: values */
    struct lkb_ynode **keys;  /* MAP: keys (scalars) */
};

/* Parse the first document of buf. name is used in messages. On a syntax
 * error, duplicate key or empty input returns -1 with err = "name:L:C: msg"
 * (LKB_ERR_CONFIG). */
int lkb_yaml_parse(const char *name, const char *buf, size_t len, struct lkb_ynode **out,
                   struct lkb_error *err);
void lkb_ynode_free(struct lkb_ynode *node);

/* Value of key in a mapping, NULL if absent. */
struct lkb_ynode *lkb_ynode_get(const struct lkb_ynode *map, const char *key);

const char *lkb_ynode_kind_name(enum lkb_ynode_kind kind);

/* What go-yaml v3 makes of text as an untagged plain scalar. */
enum lkb_ynode_kind lkb_yaml_plain_kind(const char *text);

#endif
