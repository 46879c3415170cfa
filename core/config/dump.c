/* Serialisations of the merged configuration (yaml.md §14): -dry-run YAML
 * and files[].metadata yaml/json. A small emitter over jansson values:
 * libyaml's emitter cannot produce go-yaml's indentation styles. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/yamltree.h"

struct style {
    int indent;       /* spaces per mapping level: 4 (go-yaml v3) or 2 (v2) */
    int seq_indented; /* sequences indented under their key (v3) or not (v2) */
};

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap + n + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void spaces(struct buf *b, int n)
{
    for (int i = 0; i < n; i++)
        put(b, " ", 1);
}

/* Would a plain scalar with this text read back as something else? */
static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    struct lkb_ynode *n = NULL;
    struct lkb_error e;
    size_t len = strlen(s);
    if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) || s[len - 1] == ' ' || strstr(s, ": ") ||
        strstr(s, " #") || s[len - 1] == ':' || strchr(s, '\t'))
        return 1;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            return 1;
    int quote = 1;
    if (lkb_yaml_parse("", s, len, &n, &e) == 0 && n->kind == LKB_Y_STR && !strcmp(n->text, s))
        quote = 0;
    lkb_ynode_free(n);
    return quote;
}

static void put_quoted(struct buf *b, const char *s)
{
    put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"':
            puts_(b, "\\\"");
            break;
        case '\\':
            puts_(b, "\\\\");
            break;
        case '\n':
            puts_(b, "\\n");
            break;
        case '\t':
            puts_(b, "\\t");
            break;
        default:
            if ((unsigned char)*p < 0x20) {
                snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)*p);
                puts_(b, esc);
            } else {
                put(b, p, 1);
            }
        }
    }
    put(b, "\"", 1);
}

static void put_string(struct buf *b, const char *s, int indent)
{
    size_t len = strlen(s);
    if (strchr(s, '\n') && !strchr(s, '\r') && s[0] != ' ' && s[0] != '\n') {
        /* Literal block: keeps multi-line contents readable. */
        int trailing = len && s[len - 1] == '\n';
        int extra = trailing && len > 1 && s[len - 2] == '\n';
        puts_(b, extra ? "|+\n" : trailing ? "|\n" : "|-\n");
        const char *p = s;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            if (n)
                spaces(b, indent);
            put(b, p, n);
            put(b, "\n", 1);
            if (!nl)
                break;
            p = nl + 1;
        }
        return;
    }
    if (needs_quotes(s))
        put_quoted(b, s);
    else
        puts_(b, s);
    put(b, "\n", 1);
}

static void put_scalar(struct buf *b, const json_t *v, int indent)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        put_string(b, json_string_value(v), indent);
        return;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        puts_(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%g", json_real_value(v));
        puts_(b, num);
        break;
    case JSON_TRUE:
        puts_(b, "true");
        break;
    case JSON_FALSE:
        puts_(b, "false");
        break;
    default:
        puts_(b, "null");
        break;
    }
    put(b, "\n", 1);
}

static int is_empty_container(const json_t *v)
{
    return (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

static void emit(struct buf *b, const json_t *v, int indent, const struct style *st);

/* A value after "key:" or "- ". inline_col: where a nested mapping inside a
 * sequence item starts. */
static void emit_after_key(struct buf *b, const json_t *v, int indent, const struct style *st)
{
    if (is_empty_container(v)) {
        puts_(b, json_is_array(v) ? " []\n" : " {}\n");
    } else if (json_is_object(v)) {
        puts_(b, "\n");
        emit(b, v, indent + st->indent, st);
    } else if (json_is_array(v)) {
        puts_(b, "\n");
        emit(b, v, indent + (st->seq_indented ? st->indent : 0), st);
    } else {
        puts_(b, " ");
        put_scalar(b, v, indent + st->indent);
    }
}

static void emit(struct buf *b, const json_t *v, int indent, const struct style *st)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)v, k, val)
        {
            /* The first key of a mapping that is a sequence item is already
             * positioned after "- ". */
            if (!(first && indent < 0))
                spaces(b, indent < 0 ? -indent : indent);
            first = 0;
            if (needs_quotes(k))
                put_quoted(b, k);
            else
                puts_(b, k);
            put(b, ":", 1);
            emit_after_key(b, val, indent < 0 ? -indent : indent, st);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            spaces(b, indent);
            puts_(b, "- ");
            if (json_is_object(item) && json_object_size(item))
                emit(b, item, -(indent + 2), st);
            else if (json_is_array(item) && json_array_size(item)) {
                puts_(b, "\n");
                emit(b, item, indent + 2, st);
            } else if (is_empty_container(item))
                puts_(b, json_is_array(item) ? "[]\n" : "{}\n");
            else
                put_scalar(b, item, indent + 2);
        }
    } else {
        put_scalar(b, v, indent);
    }
}

/* The model in yaml.md §14 order. canonical: expand image names. */
static json_t *model(const struct lkb_config *cfg, int canonical, int full, struct lkb_error *err)
{
    json_t *m = json_object();
    json_t *kernel = json_deep_copy(cfg->kernel);
    json_t *init = json_deep_copy(cfg->init);
    json_t *secs[3] = {json_deep_copy(cfg->onboot), json_deep_copy(cfg->onshutdown),
                       json_deep_copy(cfg->services)};
    int rc = 0;
    if (canonical) {
        char *c;
        json_t *img = json_object_get(kernel, "image");
        if (img && (rc = lkb_config_canonical_image(json_string_value(img), &c, err)) == 0) {
            json_object_set_new(kernel, "image", json_string(c));
            free(c);
        }
        size_t i;
        json_t *s;
        json_array_foreach(init, i, s)
        {
            if (rc == 0 && (rc = lkb_config_canonical_image(json_string_value(s), &c, err)) == 0) {
                json_array_set_new(init, i, json_string(c));
                free(c);
            }
        }
        for (int k = 0; k < 3; k++)
            json_array_foreach(secs[k], i, s)
            {
                json_t *im = json_object_get(s, "image");
                if (rc == 0 && im &&
                    (rc = lkb_config_canonical_image(json_string_value(im), &c, err)) == 0) {
                    json_object_set_new(s, "image", json_string(c));
                    free(c);
                }
            }
    }
    json_t *files = json_deep_copy(cfg->files);
    if (full) {
        /* Metadata always has kernel.image and every file's booleans. */
        if (!json_object_get(kernel, "image")) {
            json_t *k2 = json_object();
            json_object_set_new(k2, "image", json_string(""));
            json_object_update(k2, kernel);
            json_decref(kernel);
            kernel = k2;
        }
        size_t i;
        json_t *f;
        json_array_foreach(files, i, f)
        {
            json_t *f2 = json_object();
            json_object_set(f2, "path", json_object_get(f, "path"));
            json_object_set_new(f2, "directory",
                                json_boolean(json_is_true(json_object_get(f, "directory"))));
            json_object_update(f2, f);
            if (!json_object_get(f2, "optional"))
                json_object_set_new(f2, "optional", json_false());
            json_array_set_new(files, i, f2);
        }
    }
    static const char *const keys[] = {"kernel", "init",  "onboot", "onshutdown",
                                       "services", "files", "volumes"};
    json_t *vals[] = {kernel, init, secs[0], secs[1], secs[2], files,
                      json_deep_copy(cfg->volumes)};
    for (size_t i = 0; i < 7; i++) {
        if (full || !is_empty_container(vals[i]))
            json_object_set(m, keys[i], vals[i]);
        json_decref(vals[i]);
    }
    if (rc < 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

int lkb_config_dump_yaml(const struct lkb_config *cfg, FILE *out, struct lkb_error *err)
{
    json_t *m = model(cfg, 0, 0, err);
    if (!m)
        return -1;
    struct buf b = {0};
    static const struct style v3 = {4, 1};
    if (json_object_size(m))
        emit(&b, m, 0, &v3);
    else
        puts_(&b, "{}\n");
    put(&b, "\n", 1);
    json_decref(m);
    if (b.oom) {
        free(b.p);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    int rc = fwrite(b.p, 1, b.len, out) == b.len ? 0 : -1;
    free(b.p);
    if (rc < 0)
        return lkb_error_set(err, LKB_ERR_IO, "writing the configuration failed");
    return 0;
}

int lkb_config_metadata(const struct lkb_config *cfg, const char *kind, char **out, size_t *len,
                        struct lkb_error *err)
{
    json_t *m = model(cfg, 1, 1, err);
    if (!m)
        return -1;
    if (strcmp(kind, "json") == 0) {
        /* Go's encoding/json: empty lists are null. */
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) if (json_is_array(v) && json_array_size(v) == 0)
            json_object_set_new(m, k, json_null());
        char *s = json_dumps(m, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        json_decref(m);
        if (!s)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        /* Go escapes <, > and & (they only occur inside strings). */
        struct buf b = {0};
        for (const char *p = s; *p; p++) {
            if (*p == '<')
                puts_(&b, "\\u003c");
            else if (*p == '>')
                puts_(&b, "\\u003e");
            else if (*p == '&')
                puts_(&b, "\\u0026");
            else
                put(&b, p, 1);
        }
        free(s);
        if (b.oom) {
            free(b.p);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        *out = b.p;
        *len = b.len;
        return 0;
    }
    struct buf b = {0};
    static const struct style v2 = {2, 0};
    emit(&b, m, 0, &v2);
    json_decref(m);
    if (b.oom) {
        free(b.p);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
