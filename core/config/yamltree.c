#include "config/yamltree.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Bounds against alias bombs and self-referencing anchors. */
#define LKB_YAML_MAX_DEPTH 64
#define LKB_YAML_MAX_NODES 1000000

/* Explicit scalar tags, by the scalar's byte offset: libyaml's loader
 * gives untagged and `!!str`-tagged scalars the same tag, so they are
 * recorded from the events. */
struct tag {
    size_t index;
    char *tag;
};
struct tags {
    struct tag *v;
    size_t n;
};

struct conv {
    const char *name;
    yaml_document_t *doc;
    struct lkb_error *err;
    size_t budget;
    const struct tags *tags;
};

static void tags_free(struct tags *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].tag);
    free(t->v);
}

static const char *tag_at(const struct tags *t, size_t index)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (t->v[i].index == index)
            return t->v[i].tag;
    return NULL;
}

const char *lkb_ynode_kind_name(enum lkb_ynode_kind k)
{
    static const char *const names[] = {"null", "boolean", "integer", "number",
                                        "string", "list", "mapping"};
    return names[k];
}

void lkb_ynode_free(struct lkb_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        lkb_ynode_free(n->items[i]);
        if (n->keys)
            lkb_ynode_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    free(n);
}

struct lkb_ynode *lkb_ynode_get(const struct lkb_ynode *map, const char *key)
{
    if (!map || map->kind != LKB_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->text && strcmp(map->keys[i]->text, key) == 0)
            return map->items[i];
    return NULL;
}

static int parse_int(const char *text, int64_t *out)
{
    /* go-yaml v3 drops every '_' of a number-like scalar ("1_000"). */
    char s[72];
    size_t k = 0;
    for (const char *q = text; *q; q++)
        if (*q != '_') {
            if (k + 1 >= sizeof s)
                return 0;
            s[k++] = *q;
        }
    s[k] = '\0';
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!*p)
        return 0;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        base = 8, p += 2;
    else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        base = 2, p += 2;
    else if (p[0] == '0' && p[1])
        base = 8, p += 1; /* go-yaml keeps YAML 1.1's 0777 octal */
    if (!*p)
        return 0;
    for (const char *q = p; *q; q++) {
        int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                           : 99;
        if (d >= base)
            return 0;
    }
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, base);
    if (errno || *end)
        return 0;
    *out = neg ? -v : v;
    return 1;
}

/* go-yaml's float test: its YAML 1.2 pattern
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? on the text without
 * '_' ("08" is the float 8: not an octal integer, so a float). */
static int is_float(const char *text, double *val)
{
    static const char *const special[] = {".inf",  ".Inf",  ".INF",  "-.inf", "-.Inf",
                                          "-.INF", "+.inf", "+.Inf", "+.INF", ".nan",
                                          ".NaN",  ".NAN"};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        if (strcmp(text, special[i]) == 0) {
            *val = i >= 9 ? NAN : i >= 3 && i < 6 ? -INFINITY : INFINITY;
            return 1;
        }
    char s[72];
    size_t k = 0;
    for (const char *q = text; *q; q++)
        if (*q != '_' || text[0] == '.') { /* ".5_0": go-yaml keeps the '_' */
            if (k + 1 >= sizeof s)
                return 0;
            s[k++] = *q;
        }
    s[k] = '\0';
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t ip = strspn(p, "0123456789");
    p += ip;
    if (*p == '.') {
        size_t fp = strspn(p + 1, "0123456789");
        if (!ip && !fp)
            return 0;
        p += 1 + fp;
    } else if (!ip) {
        return 0;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        size_t ep = strspn(p, "0123456789");
        if (!ep)
            return 0;
        p += ep;
    }
    if (*p)
        return 0;
    *val = strtod(s, NULL);
    return 1;
}

/* go-yaml v3 resolution of a plain scalar. */
static void resolve_plain(struct lkb_ynode *n)
{
    const char *s = n->text;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE"};
    static const char *const falses[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 5; i++)
        if (strcmp(s, nulls[i]) == 0) {
            n->kind = LKB_Y_NULL;
            return;
        }
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, trues[i]) == 0) {
            n->kind = LKB_Y_BOOL, n->bval = 1;
            return;
        }
        if (strcmp(s, falses[i]) == 0) {
            n->kind = LKB_Y_BOOL, n->bval = 0;
            return;
        }
    }
    /* Only text starting like a number is tried as one ("_1" is a string). */
    int numeric = strchr("+-.0123456789", s[0]) != NULL;
    if (numeric && parse_int(s, &n->ival)) {
        n->kind = LKB_Y_INT;
        return;
    }
    if (numeric && is_float(s, &n->fval)) {
        n->kind = LKB_Y_FLOAT;
        return;
    }
    n->kind = LKB_Y_STR;
}

enum lkb_ynode_kind lkb_yaml_plain_kind(const char *text)
{
    struct lkb_ynode n = {.text = (char *)text};
    resolve_plain(&n);
    return n.kind;
}

static int fail_at(struct conv *c, yaml_mark_t m, const char *msg, const char *arg)
{
    return lkb_error_set(c->err, LKB_ERR_CONFIG, "%s:%zu:%zu: %s%s%s%s", c->name, m.line + 1,
                         m.column + 1, msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
}

static struct lkb_ynode *convert(struct conv *c, yaml_node_t *yn, int depth);

/* An explicitly tagged scalar, as go-yaml v3 decodes it: `!!str` (and `!`
 * or an application tag such as `!foo`) make a string of any text; the
 * core tags resolve the text, quoted or not, and fail unless it is of the
 * tag's type (`!!float` takes an integer too). */
static int apply_tag(struct conv *c, struct lkb_ynode *n, const char *tag, yaml_mark_t m)
{
    static const char core[] = "tag:yaml.org,2002:";
    if (strncmp(tag, core, sizeof core - 1) != 0) {
        n->kind = LKB_Y_STR;
        return 0;
    }
    const char *t = tag + sizeof core - 1;
    if (strcmp(t, "str") == 0) {
        n->kind = LKB_Y_STR;
        return 0;
    }
    static const struct {
        const char *name;
        enum lkb_ynode_kind kind;
    } kinds[] = {{"int", LKB_Y_INT}, {"float", LKB_Y_FLOAT}, {"bool", LKB_Y_BOOL},
                 {"null", LKB_Y_NULL}};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (strcmp(t, kinds[i].name) != 0)
            continue;
        resolve_plain(n);
        if (n->kind == LKB_Y_INT && kinds[i].kind == LKB_Y_FLOAT) {
            n->kind = LKB_Y_FLOAT;
            n->fval = (double)n->ival;
        }
        if (n->kind == kinds[i].kind)
            return 0;
        lkb_error_set(c->err, LKB_ERR_CONFIG, "%s:%zu:%zu: cannot decode !!%s `%s` as a !!%s",
                      c->name, m.line + 1, m.column + 1,
                      n->kind == LKB_Y_NULL ? "null" : n->kind == LKB_Y_BOOL ? "bool"
                      : n->kind == LKB_Y_INT ? "int" : n->kind == LKB_Y_FLOAT ? "float" : "str",
                      n->text, t);
        return -1;
    }
    /* !!binary, !!timestamp and the like: nothing in a configuration. */
    lkb_error_set(c->err, LKB_ERR_CONFIG, "%s:%zu:%zu: unsupported tag !!%s", c->name,
                  m.line + 1, m.column + 1, t);
    return -1;
}

static int map_add(struct lkb_ynode *m, struct lkb_ynode *k, struct lkb_ynode *v, size_t *cap)
{
    if (m->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct lkb_ynode **ni = realloc(m->items, nc * sizeof *ni);
        if (!ni)
            return -1;
        m->items = ni;
        struct lkb_ynode **nk = realloc(m->keys, nc * sizeof *nk);
        if (!nk)
            return -1;
        m->keys = nk;
        *cap = nc;
    }
    m->keys[m->n] = k;
    m->items[m->n] = v;
    m->n++;
    return 0;
}

static struct lkb_ynode *clone(const struct lkb_ynode *n)
{
    struct lkb_ynode *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *n;
    c->text = n->text ? strdup(n->text) : NULL;
    c->items = NULL;
    c->keys = NULL;
    if (n->n) {
        c->items = calloc(n->n, sizeof *c->items);
        if (n->keys)
            c->keys = calloc(n->n, sizeof *c->keys);
        for (size_t i = 0; c->items && i < n->n; i++) {
            c->items[i] = clone(n->items[i]);
            if (n->keys && c->keys)
                c->keys[i] = clone(n->keys[i]);
        }
    }
    return c;
}

/* Merge key `<<: *anchor` (or a list of them): copy keys not already set. */
static int apply_merge(struct conv *c, struct lkb_ynode *m, size_t *cap, yaml_node_t *src,
                       int depth)
{
    struct lkb_ynode *v = convert(c, src, depth + 1);
    if (!v)
        return -1;
    struct lkb_ynode **maps = &v;
    size_t nmaps = 1;
    if (v->kind == LKB_Y_SEQ)
        maps = v->items, nmaps = v->n;
    for (size_t i = 0; i < nmaps; i++) {
        if (maps[i]->kind != LKB_Y_MAP) {
            lkb_ynode_free(v);
            return fail_at(c, src->start_mark, "merge key '<<' needs a mapping or list of mappings",
                           NULL);
        }
        for (size_t j = 0; j < maps[i]->n; j++) {
            if (lkb_ynode_get(m, maps[i]->keys[j]->text))
                continue;
            struct lkb_ynode *k = clone(maps[i]->keys[j]), *val = clone(maps[i]->items[j]);
            if (!k || !val || map_add(m, k, val, cap) < 0) {
                lkb_ynode_free(k);
                lkb_ynode_free(val);
                lkb_ynode_free(v);
                return lkb_error_set(c->err, LKB_ERR_INTERNAL, "out of memory");
            }
        }
    }
    lkb_ynode_free(v);
    return 0;
}

static struct lkb_ynode *convert(struct conv *c, yaml_node_t *yn, int depth)
{
    if (depth > LKB_YAML_MAX_DEPTH) {
        fail_at(c, yn->start_mark, "document nested too deeply (or a recursive alias)", NULL);
        return NULL;
    }
    if (c->budget-- == 0) {
        fail_at(c, yn->start_mark, "document expands to too many nodes (alias bomb?)", NULL);
        return NULL;
    }
    struct lkb_ynode *n = calloc(1, sizeof *n);
    if (!n) {
        lkb_error_set(c->err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    n->line = (int)yn->start_mark.line + 1;
    n->col = (int)yn->start_mark.column + 1;
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        n->text = strndup((const char *)yn->data.scalar.value, yn->data.scalar.length);
        if (!n->text)
            goto oom;
        if (strlen(n->text) != yn->data.scalar.length) {
            fail_at(c, yn->start_mark, "NUL character in scalar", NULL);
            goto fail;
        }
        /* Plain scalars are typed by their text (go-yaml v3); quoted and
         * block scalars are strings. */
        const char *tag = tag_at(c->tags, yn->start_mark.index);
        if (tag && apply_tag(c, n, tag, yn->start_mark) < 0)
            goto fail;
        if (tag)
            return n;
        if (yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            resolve_plain(n);
        else
            n->kind = LKB_Y_STR;
        return n;
    }
    case YAML_SEQUENCE_NODE: {
        n->kind = LKB_Y_SEQ;
        size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
        if (cnt && !(n->items = calloc(cnt, sizeof *n->items)))
            goto oom;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *child = yaml_document_get_node(c->doc, yn->data.sequence.items.start[i]);
            if (!(n->items[i] = convert(c, child, depth + 1)))
                goto fail;
            n->n = i + 1;
        }
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->kind = LKB_Y_MAP;
        size_t cap = 0;
        yaml_node_pair_t *merge = NULL;
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
            yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
            if (kn->type != YAML_SCALAR_NODE) {
                fail_at(c, kn->start_mark, "mapping keys must be scalars", NULL);
                goto fail;
            }
            const char *ktext = (const char *)kn->data.scalar.value;
            if (kn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(ktext, "<<") == 0) {
                merge = p;
                continue;
            }
            if (lkb_ynode_get(n, ktext)) {
                fail_at(c, kn->start_mark, "duplicate key", ktext);
                goto fail;
            }
            struct lkb_ynode *k = convert(c, kn, depth + 1);
            if (!k)
                goto fail;
            if (k->kind != LKB_Y_STR) /* keys are compared as text */
                k->kind = LKB_Y_STR;
            struct lkb_ynode *v = convert(c, vn, depth + 1);
            if (!v) {
                lkb_ynode_free(k);
                goto fail;
            }
            if (map_add(n, k, v, &cap) < 0) {
                lkb_ynode_free(k);
                lkb_ynode_free(v);
                goto oom;
            }
        }
        if (merge &&
            apply_merge(c, n, &cap, yaml_document_get_node(c->doc, merge->value), depth) < 0)
            goto fail;
        return n;
    }
    default:
        fail_at(c, yn->start_mark, "unsupported YAML node", NULL);
        goto fail;
    }
oom:
    lkb_error_set(c->err, LKB_ERR_INTERNAL, "out of memory");
fail:
    lkb_ynode_free(n);
    return NULL;
}

static int syntax_error(const char *name, const yaml_parser_t *parser, struct lkb_error *err)
{
    yaml_mark_t m = parser->problem_mark;
    if (parser->context)
        return lkb_error_set(err, LKB_ERR_CONFIG, "%s:%zu:%zu: %s %s started at %zu:%zu", name,
                             m.line + 1, m.column + 1,
                             parser->problem ? parser->problem : "syntax error", parser->context,
                             parser->context_mark.line + 1, parser->context_mark.column + 1);
    return lkb_error_set(err, LKB_ERR_CONFIG, "%s:%zu:%zu: %s", name, m.line + 1, m.column + 1,
                         parser->problem ? parser->problem : "syntax error");
}

/* A pass over libyaml's events before its loader builds the document:
 * the loader would build any depth before convert() could refuse it, and
 * libyaml's scanner is quadratic in flow nesting (100k '[' took 16 s, a
 * registry-controlled label of 1 MB would take minutes), while events stop
 * at the cap after a few thousand tokens. It also refuses a second
 * document, which the loader silently ignores: a space before the first
 * key, a doubled BOM or a stray '---' would otherwise drop the rest of the
 * file. */
static int prescan(const char *name, const char *buf, size_t len, struct tags *tags,
                   struct lkb_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "cannot initialise the YAML parser");
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int depth = 0, docs = 0, rc = 0;
    bool ended = false; /* the first document is complete */
    size_t first_col = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (!ended) {
                rc = syntax_error(name, &parser, err);
                break;
            }
            /* libyaml's loader stops after the first document and would
             * silently drop the rest. */
            yaml_mark_t m = parser.problem_mark;
            rc = lkb_error_set(err, LKB_ERR_CONFIG, "%s:%zu:%zu: content after the end of the "
                               "document%s", name, m.line + 1, m.column + 1,
                               len >= 6 && !memcmp(buf, "\xef\xbb\xbf\xef\xbb\xbf", 6)
                                   ? " (the file starts with two byte-order marks)"
                               : first_col ? " (the first key is indented: remove the leading "
                                             "spaces)"
                                           : "");
            break;
        }
        yaml_mark_t m = ev.start_mark;
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == 0)
                first_col = m.column;
            if (++depth > LKB_YAML_MAX_DEPTH)
                rc = lkb_error_set(err, LKB_ERR_CONFIG,
                                   "%s:%zu:%zu: nested more than %d levels deep", name,
                                   m.line + 1, m.column + 1, LKB_YAML_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = lkb_error_set(
                    err, LKB_ERR_CONFIG, "%s:%zu:%zu: a second YAML document starts here%s", name,
                    m.line + 1, m.column + 1,
                    "; a configuration is one document");
            break;
        case YAML_DOCUMENT_END_EVENT:
            ended = true;
            break;
        case YAML_SCALAR_EVENT:
            if (ev.data.scalar.tag && !ended) {
                struct tag *nv = realloc(tags->v, (tags->n + 1) * sizeof *nv);
                char *t = strdup((const char *)ev.data.scalar.tag);
                if (nv)
                    tags->v = nv;
                if (!nv || !t) {
                    free(t);
                    rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                    break;
                }
                tags->v[tags->n++] = (struct tag){m.index, t};
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

int lkb_yaml_parse(const char *name, const char *buf, size_t len, struct lkb_ynode **out,
                   struct lkb_error *err)
{
    *out = NULL;
    struct tags tags = {0};
    if (prescan(name, buf, len, &tags, err) < 0) {
        tags_free(&tags);
        return -1;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        tags_free(&tags);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(name, &parser, err);
        yaml_parser_delete(&parser);
        tags_free(&tags);
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (!root) {
        rc = lkb_error_set(err, LKB_ERR_CONFIG, "%s:1:1: empty configuration", name);
    } else {
        struct conv c = {name, &doc, err, LKB_YAML_MAX_NODES, &tags};
        *out = convert(&c, root, 0);
        if (!*out)
            rc = -1;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    tags_free(&tags);
    return rc;
}
