/* Serialisations of the merged configuration (yaml.md §14): -dry-run YAML
 * and files[].metadata yaml/json, byte for byte as LinuxKit writes them.
 *
 * LinuxKit marshals its Go `Moby` struct: -dry-run with gopkg.in/yaml.v3
 * (4-space indent, sequences indented, no line folding), metadata with
 * yaml.v2 (2-space indent, sequences under a key not indented, plain and
 * quoted scalars folded past column 80). So the model is first reshaped as
 * the struct would hold it (go_model: struct field order, omitempty, zero
 * values), then written by a small emitter that follows go-yaml's libyaml
 * port (emitterc.go): its scalar analysis, style choice and indentation.
 * Hand-written because libyaml's own emitter has neither v3's indentation
 * nor v3's tab rule, and go-yaml's choices are what must be matched. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/yamltree.h"

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

/* ---- the emitter ---- */

struct em {
    struct buf b;
    int v3;          /* yaml.v3 rules, else yaml.v2 */
    int best_indent; /* 4 (v3) or 2 (v2) */
    int width;       /* fold past this column; <0: never (v3) */
    int column;
    int whitespace; /* last output was whitespace */
    int indention;  /* only indentation on this line so far */
};

static int utf8_width(unsigned char c)
{
    return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                                  : (c & 0xF8) == 0xF0 ? 4 : 1;
}

/* One character of s at *i (column counts characters, as go-yaml's). */
static void write_char(struct em *e, const char *s, size_t *i)
{
    size_t w = 1, max = (size_t)utf8_width((unsigned char)s[*i]);
    while (w < max && s[*i + w]) /* never past the end, were it not UTF-8 */
        w++;
    put(&e->b, s + *i, w);
    *i += w;
    e->column++;
}

static void put_str(struct em *e, const char *s)
{
    for (size_t i = 0; s[i];)
        write_char(e, s, &i);
}

static void put_break(struct em *e)
{
    put(&e->b, "\n", 1);
    e->column = 0;
}

static void write_indent(struct em *e, int indent)
{
    if (!e->indention || e->column > indent || (e->column == indent && !e->whitespace))
        put_break(e);
    while (e->column < indent) {
        put(&e->b, " ", 1);
        e->column++;
    }
    e->whitespace = 1;
    e->indention = 1;
}

static void write_indicator(struct em *e, const char *ind, int need_ws, int is_ws, int is_ind)
{
    if (need_ws && !e->whitespace) {
        put(&e->b, " ", 1);
        e->column++;
    }
    put_str(e, ind);
    e->whitespace = is_ws;
    e->indention = e->indention && is_ind;
}

static int is_break_at(const unsigned char *s, size_t i)
{
    return s[i] == '\r' || s[i] == '\n' || (s[i] == 0xC2 && s[i + 1] == 0x85) ||
           (s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9));
}

static int is_printable_at(const unsigned char *s, size_t i)
{
    unsigned char c = s[i];
    return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && s[i + 1] >= 0xA0) ||
           (c > 0xC2 && c < 0xED) || (c == 0xED && s[i + 1] < 0xA0) || c == 0xEE ||
           (c == 0xEF && !(s[i + 1] == 0xBB && s[i + 2] == 0xBF) &&
            !(s[i + 1] == 0xBF && (s[i + 2] == 0xBE || s[i + 2] == 0xBF)));
}

struct analysis {
    int multiline, block_plain_allowed, single_quoted_allowed, block_allowed;
};

/* yaml_emitter_analyze_scalar, for block context. */
static struct analysis analyze(const struct em *e, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    struct analysis a = {0, 1, 1, 1};
    if (!len) {
        a.block_allowed = 0;
        return a;
    }
    int block_ind = 0, line_breaks = 0, special = 0, tabs = 0, leading_space = 0,
        leading_break = 0, trailing_space = 0, trailing_break = 0, break_space = 0,
        space_break = 0, prev_space = 0, prev_break = 0;
    if (len >= 3 && (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)))
        block_ind = 1;
    int preceded_by_ws = 1;
    for (size_t i = 0, w; i < len; i += w) {
        w = (size_t)utf8_width(s[i]);
        int followed_by_ws = i + w >= len || s[i + w] == ' ' || s[i + w] == '\t';
        if (i == 0) {
            if (strchr("#,[]{}&*!|>'\"%@`", s[i]))
                block_ind = 1;
            else if ((s[i] == '?' || s[i] == ':' || s[i] == '-') && followed_by_ws)
                block_ind = 1;
        } else if ((s[i] == ':' && followed_by_ws) || (s[i] == '#' && preceded_by_ws)) {
            block_ind = 1;
        }
        if (s[i] == '\t' && e->v3)
            tabs = 1;
        else if (!is_printable_at(s, i))
            special = 1;
        if (s[i] == ' ') {
            leading_space |= i == 0;
            trailing_space |= i + w == len;
            break_space |= prev_break;
            prev_space = 1, prev_break = 0;
        } else if (is_break_at(s, i)) {
            line_breaks = 1;
            leading_break |= i == 0;
            trailing_break |= i + w == len;
            space_break |= prev_space;
            prev_space = 0, prev_break = 1;
        } else {
            prev_space = prev_break = 0;
        }
        preceded_by_ws = s[i] == ' ' || s[i] == '\t' || is_break_at(s, i);
    }
    a.multiline = line_breaks;
    if (leading_space || leading_break || trailing_space || trailing_break)
        a.block_plain_allowed = 0;
    if (trailing_space)
        a.block_allowed = 0;
    if (break_space)
        a.block_plain_allowed = a.single_quoted_allowed = 0;
    if (space_break || tabs || special)
        a.block_plain_allowed = a.single_quoted_allowed = 0;
    if (space_break || special)
        a.block_allowed = 0;
    if (line_breaks || block_ind)
        a.block_plain_allowed = 0;
    return a;
}

static int is_old_bool(const char *s)
{
    static const char *const v[] = {"y",  "Y",  "yes", "Yes", "YES", "on",  "On",  "ON",
                                     "n",  "N",  "no",  "No",  "NO",  "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (strcmp(s, v[i]) == 0)
            return 1;
    return 0;
}

/* go-yaml's base-60 float ("1:20", quoted for YAML 1.1 readers). */
static int is_base60(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!(*p >= '0' && *p <= '9'))
        return 0;
    while ((*p >= '0' && *p <= '9') || *p == '_')
        p++;
    int groups = 0;
    while (*p == ':') {
        p++;
        int d = 0;
        while (*p >= '0' && *p <= '9' && d < 2)
            p++, d++;
        if (!d || (d == 2 && p[-2] > '5'))
            return 0;
        groups++;
    }
    if (!groups)
        return 0;
    if (*p == '.')
        for (p++; (*p >= '0' && *p <= '9') || *p == '_'; p++)
            ;
    return *p == '\0';
}

/* 1 or 2 digits at *p, at most max; advances *p. */
static int small_num(const char **p, int max)
{
    int v = 0, d = 0;
    while (**p >= '0' && **p <= '9' && d < 2)
        v = v * 10 + (*(*p)++ - '0'), d++;
    return d && v <= max ? v : -1;
}

/* go-yaml's timestamps (Go layouts "2006-1-2", "2006-1-2 15:4:5.999999999",
 * "2006-1-2T15:4:5.999999999Z07:00"), quoted on the way out. */
static int is_timestamp(const char *s)
{
    const char *p = s + strspn(s, "0123456789");
    if (p - s != 4 || *p++ != '-' || small_num(&p, 12) < 1 || *p++ != '-' ||
        small_num(&p, 31) < 1)
        return 0;
    if (!*p)
        return 1;
    char sep = *p++;
    if (sep != 'T' && sep != 't' && sep != ' ')
        return 0;
    if (small_num(&p, 23) < 0 || *p++ != ':' || small_num(&p, 59) < 0 || *p++ != ':' ||
        small_num(&p, 59) < 0)
        return 0;
    if (*p == '.')
        p += 1 + strspn(p + 1, "0123456789");
    if (sep == ' ')
        return !*p;
    if (*p == 'Z')
        return !p[1];
    if (*p != '+' && *p != '-')
        return 0;
    p++;
    return small_num(&p, 23) >= 0 && *p++ == ':' && small_num(&p, 59) >= 0 && !*p;
}

/* Would a plain scalar with this text be read back as something other
 * than this string (go-yaml's resolve, plus its YAML 1.1 courtesies)? */
static int resolves_to_non_string(const char *s)
{
    return !*s || is_old_bool(s) || is_base60(s) || is_timestamp(s) || strcmp(s, "<<") == 0 ||
           lkb_yaml_plain_kind(s) != LKB_Y_STR;
}

enum sstyle { ST_PLAIN, ST_SINGLE, ST_DOUBLE, ST_LITERAL };

static enum sstyle choose_style(const struct em *e, const char *s, int simple_key)
{
    enum sstyle st = strchr(s, '\n') ? ST_LITERAL : resolves_to_non_string(s) ? ST_DOUBLE
                                                                               : ST_PLAIN;
    struct analysis a = analyze(e, s);
    if (st == ST_PLAIN && (!a.block_plain_allowed || (!*s && simple_key)))
        st = ST_SINGLE;
    if (st == ST_SINGLE && !a.single_quoted_allowed)
        st = ST_DOUBLE;
    if (st == ST_LITERAL && (!a.block_allowed || simple_key))
        st = ST_DOUBLE;
    return st;
}

static int folding(const struct em *e, int allow_breaks)
{
    return allow_breaks && e->width >= 0 && e->column > e->width;
}

/* A space in a flow scalar: a line break instead when folding (fold: the
 * writer's conditions hold); a double-quoted scalar escapes the next space
 * so that it survives the break. */
static void write_space(struct em *e, const char *s, size_t *i, int indent, int fold,
                        int escape_next)
{
    if (fold) {
        write_indent(e, indent);
        if (escape_next && s[*i + 1] == ' ') {
            put(&e->b, "\\", 1);
            e->column++;
        }
        (*i)++;
    } else {
        write_char(e, s, i);
    }
}

static void write_plain(struct em *e, const char *s, int indent, int allow_breaks)
{
    if (!e->whitespace) {
        put(&e->b, " ", 1);
        e->column++;
    }
    int spaces = 0;
    for (size_t i = 0; s[i];) {
        if (s[i] == ' ') {
            write_space(e, s, &i, indent, !spaces && folding(e, allow_breaks) && s[i + 1] != ' ',
                        0);
            spaces = 1;
        } else {
            write_char(e, s, &i);
            spaces = 0;
        }
    }
    e->whitespace = 0;
    e->indention = 0;
}

static void write_single(struct em *e, const char *s, int indent, int allow_breaks)
{
    write_indicator(e, "'", 1, 0, 0);
    int spaces = 0;
    size_t len = strlen(s);
    for (size_t i = 0; s[i];) {
        if (s[i] == ' ') {
            write_space(e, s, &i, indent,
                        !spaces && folding(e, allow_breaks) && i > 0 && i < len - 1 &&
                            s[i + 1] != ' ',
                        0);
            spaces = 1;
        } else {
            if (s[i] == '\'')
                put(&e->b, "'", 1), e->column++;
            write_char(e, s, &i);
            e->indention = 0;
            spaces = 0;
        }
    }
    write_indicator(e, "'", 0, 0, 0);
}

static void write_double(struct em *e, const char *str, int indent, int allow_breaks)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    write_indicator(e, "\"", 1, 0, 0);
    int spaces = 0;
    for (size_t i = 0; i < len;) {
        int bom = s[i] == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF;
        if (!is_printable_at(s, i) || bom || is_break_at(s, i) || s[i] == '"' || s[i] == '\\') {
            int w = utf8_width(s[i]);
            unsigned long v = w == 1 ? s[i] : s[i] & (0xFF >> (w + 1));
            for (int k = 1; k < w && i + (size_t)k < len; k++)
                v = (v << 6) | (s[i + k] & 0x3F);
            i += (size_t)w;
            static const struct {
                unsigned long v;
                char c;
            } esc[] = {{0, '0'},    {7, 'a'},    {8, 'b'},    {9, 't'},      {10, 'n'},
                       {11, 'v'},   {12, 'f'},   {13, 'r'},   {0x1b, 'e'},   {'"', '"'},
                       {'\\', '\\'}, {0x85, 'N'}, {0xA0, '_'}, {0x2028, 'L'}, {0x2029, 'P'}};
            char out[12] = "\\";
            size_t k;
            for (k = 0; k < sizeof esc / sizeof *esc && esc[k].v != v; k++)
                ;
            if (k < sizeof esc / sizeof *esc)
                out[1] = esc[k].c, out[2] = '\0';
            else
                snprintf(out, sizeof out, v <= 0xFF ? "\\x%02lX" : v <= 0xFFFF ? "\\u%04lX"
                                                                               : "\\U%08lX",
                         v);
            put_str(e, out);
            spaces = 0;
        } else if (s[i] == ' ') {
            write_space(e, str, &i, indent,
                        !spaces && folding(e, allow_breaks) && i != 0 && i != len - 1, 1);
            spaces = 1;
        } else {
            write_char(e, str, &i);
            spaces = 0;
        }
    }
    write_indicator(e, "\"", 0, 0, 0);
}

static void write_literal(struct em *e, const char *s, int indent)
{
    write_indicator(e, "|", 1, 0, 0);
    size_t len = strlen(s);
    char hints[4] = "";
    size_t h = 0;
    if (s[0] == ' ' || s[0] == '\n')
        hints[h++] = (char)('0' + e->best_indent);
    if (s[len - 1] != '\n')
        hints[h++] = '-';
    else if (len == 1 || s[len - 2] == '\n')
        hints[h++] = '+';
    hints[h] = '\0';
    if (h)
        write_indicator(e, hints, 0, 0, 0);
    put_break(e);
    e->indention = 1;
    e->whitespace = 1;
    int breaks = 1;
    for (size_t i = 0; s[i];) {
        if (s[i] == '\n') {
            put_break(e);
            i++;
            e->indention = 1;
            breaks = 1;
        } else {
            if (breaks)
                write_indent(e, indent);
            breaks = 0;
            write_char(e, s, &i);
            e->indention = 0;
        }
    }
}

/* A scalar; indent is where its continuation lines go. */
static void emit_scalar(struct em *e, const json_t *v, int indent, int simple_key)
{
    char num[32];
    const char *text = num;
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        switch (choose_style(e, s, simple_key)) {
        case ST_PLAIN:
            write_plain(e, s, indent, !simple_key);
            return;
        case ST_SINGLE:
            write_single(e, s, indent, !simple_key);
            return;
        case ST_DOUBLE:
            write_double(e, s, indent, !simple_key);
            return;
        case ST_LITERAL:
            write_literal(e, s, indent);
            return;
        }
        return;
    }
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        text = "true";
        break;
    case JSON_FALSE:
        text = "false";
        break;
    default:
        text = "null";
        break;
    }
    write_plain(e, text, indent, 0);
}

/* Indentation of what is nested under a key at `indent` (mapping, scalar
 * continuation): v3 aligns to the next multiple of 4, v2 adds 2. */
static int nested(const struct em *e, int indent)
{
    return e->v3 ? e->best_indent * ((indent + e->best_indent) / e->best_indent)
                 : indent + e->best_indent;
}

static void emit_node(struct em *e, const json_t *v, int indent);

static int is_empty_container(const json_t *v)
{
    return (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

static void emit_mapping(struct em *e, const json_t *obj, int indent)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val)
    {
        write_indent(e, indent);
        json_t *key = json_string(k);
        if (key)
            emit_scalar(e, key, indent, 1);
        json_decref(key);
        write_indicator(e, ":", 0, 0, 0);
        if (is_empty_container(val))
            write_indicator(e, json_is_array(val) ? "[]" : "{}", 1, 0, 0);
        else if (json_is_object(val))
            emit_mapping(e, val, nested(e, indent));
        else if (json_is_array(val))
            /* v2 writes a sequence under a key without indenting it. */
            emit_node(e, val, e->v3 ? nested(e, indent) : indent);
        else
            emit_scalar(e, val, nested(e, indent), 0);
    }
}

static void emit_node(struct em *e, const json_t *v, int indent)
{
    if (json_is_object(v) && json_object_size(v)) {
        emit_mapping(e, v, indent);
    } else if (json_is_array(v) && json_array_size(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            write_indent(e, indent);
            write_indicator(e, "-", 1, 0, 1);
            /* Inside an item everything starts past "- ". */
            if (is_empty_container(item))
                write_indicator(e, json_is_array(item) ? "[]" : "{}", 1, 0, 0);
            else if (json_is_object(item) || json_is_array(item))
                emit_node(e, item, indent + 2);
            else
                emit_scalar(e, item, indent + 2, 0);
        }
    } else if (is_empty_container(v)) {
        write_indicator(e, json_is_array(v) ? "[]" : "{}", 1, 0, 0);
    } else {
        emit_scalar(e, v, indent, 0);
    }
}

static int emit_document(const json_t *m, int v3, struct buf *out)
{
    struct em e = {.v3 = v3, .best_indent = v3 ? 4 : 2, .width = v3 ? -1 : 80,
                   .whitespace = 1, .indention = 1};
    emit_node(&e, m, 0);
    put_break(&e);
    *out = e.b;
    return out->oom ? -1 : 0;
}

/* ---- the Go struct's shape ---- */

enum writer { W_V3, W_V2, W_JSON };

static int setv(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

/* Copy key if present (a pointer field, or `omitempty` of a type whose
 * zero value the YAML cannot give: lists and maps stay even when empty). */
static void copy_if(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (v && !json_is_null(v))
        json_object_set_new(dst, key, json_deep_copy(v));
}

/* A string field with `omitempty`: gone when "". */
static void copy_nonempty(json_t *dst, const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    if (json_is_string(v) && *json_string_value(v))
        json_object_set_new(dst, key, json_deep_copy(v));
}

static json_t *str_or_empty(const json_t *src, const char *key)
{
    json_t *v = json_object_get(src, key);
    return json_is_string(v) ? json_deep_copy(v) : json_string("");
}

/* go-yaml's map key order (keyList.Less, string keys): digit runs compare
 * as numbers; between a letter and another character the other one comes
 * first, except right after a digit in v3, where the letter does. */
static int go_key_less(const char *a, const char *b, int v2)
{
    int digits = 0;
    size_t i = 0;
    for (; a[i] && b[i]; i++) {
        if (a[i] == b[i]) {
            digits = a[i] >= '0' && a[i] <= '9';
            continue;
        }
        int al = (a[i] | 0x20) >= 'a' && (a[i] | 0x20) <= 'z';
        int bl = (b[i] | 0x20) >= 'a' && (b[i] | 0x20) <= 'z';
        if (al && bl)
            return (unsigned char)a[i] < (unsigned char)b[i];
        if (al || bl) /* v2 lacks v3's digit-run rule here */
            return digits && !v2 ? al : bl;
        long long an = 0, bn = 0;
        size_t ai, bi;
        if (a[i] == '0' || b[i] == '0')
            for (size_t j = i; j-- > 0 && a[j] >= '0' && a[j] <= '9';)
                if (a[j] != '0') {
                    an = bn = 1;
                    break;
                }
        for (ai = i; a[ai] >= '0' && a[ai] <= '9'; ai++)
            an = an * 10 + (a[ai] - '0');
        for (bi = i; b[bi] >= '0' && b[bi] <= '9'; bi++)
            bn = bn * 10 + (b[bi] - '0');
        if (an != bn)
            return an < bn;
        if (ai != bi)
            return ai < bi;
        return (unsigned char)a[i] < (unsigned char)b[i];
    }
    return strlen(a) < strlen(b);
}

static int cmp_go(const void *x, const void *y, int v2)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    return go_key_less(a, b, v2) ? -1 : go_key_less(b, a, v2) ? 1 : 0;
}
static int cmp_keys(const void *x, const void *y) { return cmp_go(x, y, 0); }
static int cmp_keys_v2(const void *x, const void *y) { return cmp_go(x, y, 1); }

/* encoding/json sorts map keys by bytes. */
static int cmp_bytes(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *sorted_map(const json_t *m, enum writer w)
{
    size_t n = json_object_size(m), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    json_t *out = json_object();
    if (!keys || !out) {
        free(keys);
        json_decref(out);
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, w == W_JSON ? cmp_bytes : w == W_V2 ? cmp_keys_v2 : cmp_keys);
    for (i = 0; i < n; i++)
        json_object_set_new(out, keys[i], json_deep_copy(json_object_get(m, keys[i])));
    free(keys);
    return out;
}

/* fn over every item of list, into a new list. */
static json_t *map_list(const json_t *list, json_t *(*fn)(const json_t *))
{
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) json_array_append_new(out, fn(item));
    return out;
}

/* specs.Mount: no yaml tags, so every field, lower-cased. */
static json_t *go_mount(const json_t *m)
{
    json_t *g = json_object();
    setv(g, "destination", str_or_empty(m, "destination"));
    setv(g, "type", str_or_empty(m, "type"));
    setv(g, "source", str_or_empty(m, "source"));
    static const char *const lists[] = {"options", "uidmappings", "gidmappings"};
    for (size_t k = 0; k < 3; k++) {
        json_t *l = json_object_get(m, lists[k]);
        setv(g, lists[k], json_is_array(l) ? json_deep_copy(l) : json_array());
    }
    return g;
}

/* The same through encoding/json: its tags are camelCase and omitempty. */
static json_t *go_mount_json(const json_t *m)
{
    json_t *g = json_object();
    setv(g, "destination", str_or_empty(m, "destination"));
    copy_nonempty(g, m, "type");
    copy_nonempty(g, m, "source");
    static const char *const lists[][2] = {
        {"options", "options"}, {"uidmappings", "uidMappings"}, {"gidmappings", "gidMappings"}};
    for (size_t k = 0; k < 3; k++) {
        json_t *l = json_object_get(m, lists[k][0]);
        if (json_array_size(l))
            setv(g, lists[k][1], json_deep_copy(l));
    }
    return g;
}

static json_t *go_mounts(const json_t *list, enum writer w)
{
    return map_list(list, w == W_JSON ? go_mount_json : go_mount);
}

/* Device: major and minor always, mode when set. */
static json_t *go_device(const json_t *d)
{
    json_t *o = json_object();
    setv(o, "path", str_or_empty(d, "path"));
    setv(o, "type", str_or_empty(d, "type"));
    static const char *const nums[] = {"major", "minor"};
    for (size_t n = 0; n < 2; n++) {
        json_t *x = json_object_get(d, nums[n]);
        setv(o, nums[n], json_integer(json_is_integer(x) ? json_integer_value(x) : 0));
    }
    copy_nonempty(o, d, "mode");
    return o;
}

/* Interface: createInRoot always, the strings when set. */
static json_t *go_interface(const json_t *it)
{
    json_t *o = json_object();
    copy_nonempty(o, it, "name");
    copy_nonempty(o, it, "add");
    copy_nonempty(o, it, "peer");
    setv(o, "createInRoot", json_boolean(json_is_true(json_object_get(it, "createInRoot"))));
    return o;
}

static const char *const image_keys[] = {
    "capabilities", "capabilities.add", "ambient",        "mounts",          "binds",
    "binds.add",    "devices",          "tmpfs",          "command",         "env",
    "cwd",          "net",              "pid",            "ipc",             "uts",
    "userns",       "hostname",         "readonly",       "maskedPaths",     "readonlyPaths",
    "uid",          "gid",              "additionalGids", "noNewPrivileges", "oomScoreAdj",
    "rootfsPropagation", "cgroupsPath", "resources",      "sysctl",          "rlimits",
    "uidMappings",  "gidMappings",      "annotations",    "runtime"};

static json_t *go_runtime(const json_t *rt, enum writer w)
{
    json_t *g = json_object();
    copy_if(g, rt, "cgroups");
    if (json_is_array(json_object_get(rt, "mounts")))
        setv(g, "mounts", go_mounts(json_object_get(rt, "mounts"), w));
    copy_if(g, rt, "mkdir");
    const json_t *ifs = json_object_get(rt, "interfaces");
    if (json_is_array(ifs))
        setv(g, "interfaces", map_list(ifs, go_interface));
    /* A struct with omitempty: yaml drops it when every namespace is
     * unset; encoding/json ignores omitempty on structs and writes {}. */
    const json_t *ns = json_object_get(rt, "bindNS");
    if (w == W_JSON && !json_object_size(ns))
        setv(g, "bindNS", json_object());
    if (json_object_size(ns)) {
        json_t *o = json_object();
        static const char *const k[] = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
        for (size_t i = 0; i < 7; i++)
            copy_if(o, ns, k[i]);
        if (json_object_size(o) || w == W_JSON)
            setv(g, "bindNS", o);
        else
            json_decref(o);
    }
    copy_if(g, rt, "namespace");
    return g;
}

/* An image string, expanded as LinuxKit's UpdateImages does when
 * canonical (an empty kernel image stays empty). */
static json_t *image_value(const json_t *v, int canonical, struct lkb_error *err, int *rc)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    char *c;
    if (canonical && *s && *rc == 0 && (*rc = lkb_config_canonical_image(s, &c, err)) == 0) {
        json_t *r = json_string(c);
        free(c);
        return r;
    }
    return json_string(s);
}

static json_t *go_image(const json_t *e, int canonical, enum writer w, struct lkb_error *err,
                        int *rc)
{
    json_t *g = json_object();
    setv(g, "name", str_or_empty(e, "name"));
    setv(g, "image", image_value(json_object_get(e, "image"), canonical, err, rc));
    for (size_t i = 0; i < sizeof image_keys / sizeof *image_keys; i++) {
        const char *k = image_keys[i];
        json_t *v = json_object_get(e, k);
        if (!v || json_is_null(v))
            continue;
        /* Plain `string` fields with omitempty; the rest are pointers. */
        static const char *const plain[] = {"cwd", "net", "pid", "ipc", "uts", "userns",
                                            "hostname"};
        int is_plain = 0;
        for (size_t p = 0; p < sizeof plain / sizeof *plain; p++)
            is_plain |= strcmp(k, plain[p]) == 0;
        if (is_plain)
            copy_nonempty(g, e, k);
        else if (strcmp(k, "mounts") == 0)
            setv(g, k, go_mounts(v, w));
        else if (strcmp(k, "devices") == 0)
            setv(g, k, map_list(v, go_device));
        else if (strcmp(k, "sysctl") == 0 || strcmp(k, "annotations") == 0)
            setv(g, k, sorted_map(v, w));
        else if (strcmp(k, "runtime") == 0)
            setv(g, k, go_runtime(v, w));
        else
            json_object_set_new(g, k, json_deep_copy(v));
    }
    return g;
}

static json_t *go_images(const json_t *list, int canonical, enum writer w, struct lkb_error *err,
                         int *rc)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) json_array_append_new(out, go_image(e, canonical, w, err, rc));
    return out;
}

/* The Moby struct as LinuxKit holds it after loading; canonical: image
 * names expanded as LinuxKit's UpdateImages does for metadata. */
static json_t *go_model(const struct lkb_config *cfg, int canonical, enum writer w,
                        struct lkb_error *err)
{
    int rc = 0;
    json_t *m = json_object();
    json_t *k = json_object();
    const json_t *ck = cfg->kernel;
    setv(k, "image", image_value(json_object_get(ck, "image"), canonical, err, &rc));
    copy_nonempty(k, ck, "cmdline");
    copy_nonempty(k, ck, "binary");
    copy_if(k, ck, "tar");
    copy_if(k, ck, "ucode");
    setv(m, "kernel", k);

    json_t *init = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(cfg->init, i, s)
        json_array_append_new(init, image_value(s, canonical, err, &rc));
    setv(m, "init", init);
    setv(m, "onboot", go_images(cfg->onboot, canonical, w, err, &rc));
    setv(m, "onshutdown", go_images(cfg->onshutdown, canonical, w, err, &rc));
    setv(m, "services", go_images(cfg->services, canonical, w, err, &rc));

    json_t *files = json_array();
    json_t *f;
    json_array_foreach(cfg->files, i, f)
    {
        json_t *o = json_object();
        setv(o, "path", str_or_empty(f, "path"));
        setv(o, "directory", json_boolean(json_is_true(json_object_get(f, "directory"))));
        copy_nonempty(o, f, "symlink");
        copy_if(o, f, "contents");
        copy_nonempty(o, f, "source");
        copy_nonempty(o, f, "metadata");
        setv(o, "optional", json_boolean(json_is_true(json_object_get(f, "optional"))));
        copy_nonempty(o, f, "mode");
        copy_if(o, f, "uid");
        copy_if(o, f, "gid");
        json_array_append_new(files, o);
    }
    setv(m, "files", files);

    json_t *vols = json_array();
    json_t *v;
    json_array_foreach(cfg->volumes, i, v)
    {
        json_t *o = json_object();
        setv(o, "name", str_or_empty(v, "name"));
        copy_nonempty(o, v, "image");
        if (json_is_true(json_object_get(v, "readonly")))
            setv(o, "readonly", json_true());
        copy_nonempty(o, v, "format");
        if (json_array_size(json_object_get(v, "platforms")))
            copy_if(o, v, "platforms");
        json_array_append_new(vols, o);
    }
    setv(m, "volumes", vols);
    if (rc < 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

int lkb_config_dump_yaml(const struct lkb_config *cfg, FILE *out, struct lkb_error *err)
{
    json_t *m = go_model(cfg, 0, W_V3, err);
    if (!m)
        return -1;
    struct buf b;
    int rc = emit_document(m, 1, &b);
    json_decref(m);
    /* LinuxKit prints the document with fmt.Println: one more newline. */
    put(&b, "\n", 1);
    if (rc < 0 || b.oom) {
        free(b.p);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    rc = fwrite(b.p, 1, b.len, out) == b.len ? 0 : -1;
    free(b.p);
    if (rc < 0)
        return lkb_error_set(err, LKB_ERR_IO, "writing the configuration failed");
    return 0;
}

int lkb_config_metadata(const struct lkb_config *cfg, const char *kind, char **out, size_t *len,
                        struct lkb_error *err)
{
    enum writer w = strcmp(kind, "json") == 0 ? W_JSON : W_V2;
    json_t *m = go_model(cfg, 1, w, err);
    if (!m)
        return -1;
    struct buf b = {0};
    if (w == W_JSON) {
        /* Go's encoding/json: empty lists are null. */
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) if (json_is_array(v) && json_array_size(v) == 0)
            json_object_set_new(m, k, json_null());
        char *s = json_dumps(m, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        json_decref(m);
        if (!s)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        /* Go escapes <, >, & and U+2028/U+2029 (they only occur inside
         * strings) and writes \u00xx in lower case where jansson writes
         * upper case. */
        for (const char *p = s; *p; p++) {
            if (*p == '<')
                puts_(&b, "\\u003c");
            else if (*p == '>')
                puts_(&b, "\\u003e");
            else if (*p == '&')
                puts_(&b, "\\u0026");
            else if (!strncmp(p, "\xe2\x80\xa8", 3) || !strncmp(p, "\xe2\x80\xa9", 3)) {
                puts_(&b, p[2] == '\xa8' ? "\\u2028" : "\\u2029");
                p += 2;
            } else if (*p == '\\' && p[1]) {
                char esc[7] = {'\\', p[1]};
                size_t n = 2;
                if (p[1] == 'u')
                    for (; n < 6 && p[n]; n++)
                        esc[n] = (char)(p[n] >= 'A' && p[n] <= 'F' ? p[n] + 32 : p[n]);
                put(&b, esc, n);
                p += n - 1;
            } else {
                put(&b, p, 1);
            }
        }
        free(s);
    } else {
        emit_document(m, 0, &b);
        json_decref(m);
    }
    if (b.oom) {
        free(b.p);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
