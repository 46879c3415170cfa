/* LinuxKit's JSON schema (yaml.md §2-§7) as tables, checked on the located
 * YAML tree so every violation carries file:line:col. Hand-written because
 * no C JSON-schema library is packaged for Debian, and a schema library
 * could not report YAML source locations anyway. */
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

enum ftype {
    F_STR,
    F_BOOL,
    F_INT,
    F_STRLIST,
    F_OBJ,
    F_OBJLIST,
    F_STRMAP,
    F_ID,     /* integer or string (uid/gid) */
    F_IDLIST, /* list of integer or string */
    F_MODE,   /* string holding an octal number */
};

struct schema;
struct field {
    const char *key;
    enum ftype type;
    const struct schema *sub;
};
struct schema {
    const char *what; /* for messages: "image entry", "mount", ... */
    const struct field *fields;
};

#define S(name, what, ...)                                                                     \
    static const struct field name##_fields[] = {__VA_ARGS__, {NULL, 0, NULL}};                \
    static const struct schema name = {what, name##_fields}

S(idmap, "id mapping", {"hostID", F_INT, NULL}, {"containerID", F_INT, NULL},
  {"size", F_INT, NULL});
S(mount, "mount", {"destination", F_STR, NULL}, {"type", F_STR, NULL}, {"source", F_STR, NULL},
  {"options", F_STRLIST, NULL}, {"uidmappings", F_OBJLIST, &idmap},
  {"gidmappings", F_OBJLIST, &idmap});
S(device, "device", {"path", F_STR, NULL}, {"type", F_STR, NULL}, {"major", F_INT, NULL},
  {"minor", F_INT, NULL}, {"mode", F_MODE, NULL});
S(res_device, "resources device", {"allow", F_BOOL, NULL}, {"type", F_STR, NULL},
  {"major", F_INT, NULL}, {"minor", F_INT, NULL}, {"access", F_STR, NULL});
S(res_memory, "resources.memory", {"limit", F_INT, NULL}, {"reservation", F_INT, NULL},
  {"swap", F_INT, NULL}, {"kernel", F_INT, NULL}, {"kernelTCP", F_INT, NULL},
  {"swappiness", F_INT, NULL}, {"disableOOMKiller", F_BOOL, NULL});
S(res_cpu, "resources.cpu", {"shares", F_INT, NULL}, {"quota", F_INT, NULL},
  {"period", F_INT, NULL}, {"realtimeRuntime", F_INT, NULL}, {"realtimePeriod", F_INT, NULL},
  {"cpus", F_STR, NULL}, {"mems", F_STR, NULL});
S(res_pids, "resources.pids", {"limit", F_INT, NULL});
S(weight_dev, "weight device", {"major", F_INT, NULL}, {"minor", F_INT, NULL},
  {"weight", F_INT, NULL}, {"leafWeight", F_INT, NULL});
S(throttle_dev, "throttle device", {"major", F_INT, NULL}, {"minor", F_INT, NULL},
  {"rate", F_INT, NULL});
S(res_blkio, "resources.blockio", {"weight", F_INT, NULL}, {"leafWeight", F_INT, NULL},
  {"weightDevice", F_OBJLIST, &weight_dev}, {"throttleReadBpsDevice", F_OBJLIST, &throttle_dev},
  {"throttleWriteBpsDevice", F_OBJLIST, &throttle_dev},
  {"throttleReadIOPSDevice", F_OBJLIST, &throttle_dev},
  {"throttleWriteIOPSDevice", F_OBJLIST, &throttle_dev});
S(hugepage, "hugepage limit", {"pageSize", F_INT, NULL}, {"limit", F_INT, NULL});
S(net_prio, "network priority", {"name", F_STR, NULL}, {"priority", F_INT, NULL});
S(res_net, "resources.network", {"classID", F_INT, NULL},
  {"priorities", F_OBJLIST, &net_prio});
S(resources, "resources", {"devices", F_OBJLIST, &res_device}, {"memory", F_OBJ, &res_memory},
  {"cpu", F_OBJ, &res_cpu}, {"pids", F_OBJ, &res_pids}, {"blockio", F_OBJ, &res_blkio},
  {"hugepageLimits", F_OBJLIST, &hugepage}, {"network", F_OBJ, &res_net});
S(iface, "interface", {"name", F_STR, NULL}, {"add", F_STR, NULL}, {"peer", F_STR, NULL},
  {"createInRoot", F_BOOL, NULL});
S(bindns, "bindNS", {"cgroup", F_STR, NULL}, {"ipc", F_STR, NULL}, {"mnt", F_STR, NULL},
  {"net", F_STR, NULL}, {"pid", F_STR, NULL}, {"user", F_STR, NULL}, {"uts", F_STR, NULL});
S(runtime, "runtime", {"cgroups", F_STRLIST, NULL}, {"mounts", F_OBJLIST, &mount},
  {"mkdir", F_STRLIST, NULL}, {"interfaces", F_OBJLIST, &iface}, {"bindNS", F_OBJ, &bindns},
  {"namespace", F_STR, NULL});

/* Image entry keys in yaml.md §5 table order (also the dump order). */
#define IMAGE_FIELDS                                                                           \
    {"capabilities", F_STRLIST, NULL}, {"capabilities.add", F_STRLIST, NULL},                  \
        {"ambient", F_STRLIST, NULL}, {"mounts", F_OBJLIST, &mount},                           \
        {"binds", F_STRLIST, NULL}, {"binds.add", F_STRLIST, NULL},                            \
        {"devices", F_OBJLIST, &device}, {"tmpfs", F_STRLIST, NULL},                           \
        {"command", F_STRLIST, NULL}, {"env", F_STRLIST, NULL}, {"cwd", F_STR, NULL},          \
        {"net", F_STR, NULL}, {"pid", F_STR, NULL}, {"ipc", F_STR, NULL},                      \
        {"uts", F_STR, NULL}, {"userns", F_STR, NULL}, {"hostname", F_STR, NULL},              \
        {"readonly", F_BOOL, NULL}, {"maskedPaths", F_STRLIST, NULL},                          \
        {"readonlyPaths", F_STRLIST, NULL}, {"uid", F_ID, NULL}, {"gid", F_ID, NULL},          \
        {"additionalGids", F_IDLIST, NULL}, {"noNewPrivileges", F_BOOL, NULL},                 \
        {"oomScoreAdj", F_INT, NULL}, {"rootfsPropagation", F_STR, NULL},                      \
        {"cgroupsPath", F_STR, NULL}, {"resources", F_OBJ, &resources},                        \
        {"sysctl", F_STRMAP, NULL}, {"rlimits", F_STRLIST, NULL},                              \
        {"uidMappings", F_OBJLIST, &idmap}, {"gidMappings", F_OBJLIST, &idmap},                \
        {"annotations", F_STRMAP, NULL}, {"runtime", F_OBJ, &runtime }

S(image, "image entry", {"name", F_STR, NULL}, {"image", F_STR, NULL}, IMAGE_FIELDS);
S(label, "label", IMAGE_FIELDS);
S(volume, "volume", {"name", F_STR, NULL}, {"image", F_STR, NULL}, {"readonly", F_BOOL, NULL},
  {"format", F_STR, NULL}, {"platforms", F_STRLIST, NULL});
S(file, "file", {"path", F_STR, NULL}, {"directory", F_BOOL, NULL}, {"symlink", F_STR, NULL},
  {"contents", F_STR, NULL}, {"source", F_STR, NULL}, {"metadata", F_STR, NULL},
  {"optional", F_BOOL, NULL}, {"mode", F_MODE, NULL}, {"uid", F_ID, NULL}, {"gid", F_ID, NULL});
S(kernel, "kernel", {"image", F_STR, NULL}, {"cmdline", F_STR, NULL}, {"binary", F_STR, NULL},
  {"tar", F_STR, NULL}, {"ucode", F_STR, NULL});
S(trust, "trust", {"image", F_STRLIST, NULL}, {"org", F_STRLIST, NULL});
S(top, "configuration", {"kernel", F_OBJ, &kernel}, {"init", F_STRLIST, NULL},
  {"onboot", F_OBJLIST, &image}, {"onshutdown", F_OBJLIST, &image},
  {"services", F_OBJLIST, &image}, {"volumes", F_OBJLIST, &volume},
  {"files", F_OBJLIST, &file}, {"trust", F_OBJ, &trust});

void lkb_cfg_diag(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **n = realloc(ctx->diags, (ctx->n_diags + 1) * sizeof *n);
    if (!n) {
        ctx->oom = 1;
        return;
    }
    ctx->diags = n;
    size_t len = strlen(ctx->file) + strlen(msg) + 48;
    char *d = malloc(len);
    if (!d) {
        ctx->oom = 1;
        return;
    }
    snprintf(d, len, "%s:%d:%d: %s", ctx->file, at ? at->line : 1, at ? at->col : 1, msg);
    n[ctx->n_diags++] = d;
}

static void remember(struct lkb_cfg_ctx *ctx, const json_t *value, const json_t *parent,
                     const char *key, const struct lkb_ynode *at)
{
    struct lkb_config *cfg = ctx->cfg;
    if (!cfg || !at)
        return;
    if (cfg->n_locs == cfg->cap_locs) {
        size_t nc = cfg->cap_locs ? cfg->cap_locs * 2 : 64;
        struct lkb_config_loc *n = realloc(cfg->locs, nc * sizeof *n);
        if (!n) {
            ctx->oom = 1;
            return;
        }
        cfg->locs = n;
        cfg->cap_locs = nc;
    }
    cfg->locs[cfg->n_locs++] =
        (struct lkb_config_loc){value, parent, key, ctx->file, at->line, at->col};
}

static int singleton(const json_t *v)
{
    return json_is_boolean(v) || json_is_null(v);
}

void lkb_cfg_remember(struct lkb_cfg_ctx *ctx, const json_t *value, const struct lkb_ynode *at)
{
    if (value && !singleton(value))
        remember(ctx, value, NULL, NULL, at);
}

void lkb_cfg_remember_key(struct lkb_cfg_ctx *ctx, const json_t *parent, const char *key,
                          const struct lkb_ynode *at)
{
    remember(ctx, NULL, parent, key, at);
}

int lkb_cfg_find_loc(const struct lkb_config *cfg, const json_t *parent, const char *key,
                     const json_t *node, const struct lkb_config_loc **out)
{
    if (parent && key)
        node = json_object_get(parent, key);
    if (!node)
        return 0;
    int by_key = singleton(node);
    if (by_key && !(parent && key))
        return 0;
    for (size_t i = cfg->n_locs; i-- > 0;) {
        const struct lkb_config_loc *l = &cfg->locs[i];
        if (by_key ? l->parent == parent && l->key && strcmp(l->key, key) == 0
                   : l->node == node) {
            *out = l;
            return 1;
        }
    }
    return 0;
}

long lkb_cfg_parse_mode(const char *s)
{
    if (!*s || strlen(s) > 12)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '7')
            return -1;
        v = v * 8 + (*p - '0');
    }
    return v > 07777 ? -1 : v;
}

static const char *path_of(char *buf, size_t len, const char *parent, const char *key)
{
    snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
    return buf;
}

static json_t *convert(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n, enum ftype t,
                       const struct schema *sub, const char *where);

static json_t *scalar_json(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n)
{
    json_t *v = NULL;
    switch (n->kind) {
    case LKB_Y_STR:
        v = json_string(n->text);
        if (!v) /* not UTF-8 */
            lkb_cfg_diag(ctx, n, "string is not valid UTF-8");
        break;
    case LKB_Y_INT:
        v = json_integer(n->ival);
        break;
    case LKB_Y_BOOL:
        v = json_boolean(n->bval);
        break;
    default:
        break;
    }
    lkb_cfg_remember(ctx, v, n);
    return v;
}

/* LinuxKit's schema checks integers as numbers without a fraction (1.0 and
 * 1e3 pass) and go-yaml then stores them in an int: the same value. */
static int whole_float(const struct lkb_ynode *n)
{
    return n->kind == LKB_Y_FLOAT && isfinite(n->fval) && n->fval > -9007199254740992.0 &&
           n->fval < 9007199254740992.0 && (double)(int64_t)n->fval == n->fval;
}

static json_t *whole_float_json(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n)
{
    json_t *v = json_integer((json_int_t)n->fval);
    lkb_cfg_remember(ctx, v, n);
    return v;
}

static int expect(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n, enum lkb_ynode_kind kind,
                  const char *where, const char *want)
{
    if (n->kind == kind)
        return 1;
    if (n->kind == LKB_Y_NULL)
        lkb_cfg_diag(ctx, n, "%s: expected %s, got null (remove the key or give a value)", where,
                     want);
    else
        lkb_cfg_diag(ctx, n, "%s: expected %s, got %s", where, want,
                     lkb_ynode_kind_name(n->kind));
    return 0;
}

static json_t *convert_object(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n,
                              const struct schema *s, const char *where)
{
    if (!expect(ctx, n, LKB_Y_MAP, where, "a mapping"))
        return NULL;
    json_t *obj = json_object();
    lkb_cfg_remember(ctx, obj, n);
    /* Emit keys in schema order so dumps and metadata are stable. */
    for (const struct field *f = s->fields; f->key; f++) {
        const struct lkb_ynode *v = lkb_ynode_get(n, f->key);
        if (!v)
            continue;
        char sub[256];
        json_t *jv = convert(ctx, v, f->type, f->sub, path_of(sub, sizeof sub, where, f->key));
        /* A bad value stays as null so later checks know the key was
         * given (no "missing key" on top of the type error). */
        json_object_set_new(obj, f->key, jv ? jv : json_null());
        lkb_cfg_remember_key(ctx, obj, f->key, v);
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct field *f = s->fields;
        while (f->key && strcmp(f->key, n->keys[i]->text) != 0)
            f++;
        if (!f->key) {
            lkb_cfg_diag(ctx, n->keys[i], "%s%sunknown key '%s' in %s", where, *where ? ": " : "",
                         n->keys[i]->text, s->what);
        }
    }
    return obj;
}

static json_t *convert_list(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n, enum ftype item,
                            const struct schema *sub, const char *where, const char *want)
{
    if (!expect(ctx, n, LKB_Y_SEQ, where, want))
        return NULL;
    json_t *arr = json_array();
    lkb_cfg_remember(ctx, arr, n);
    for (size_t i = 0; i < n->n; i++) {
        char w[256];
        snprintf(w, sizeof w, "%s[%zu]", where, i);
        json_t *v = convert(ctx, n->items[i], item, sub, w);
        json_array_append_new(arr, v ? v : json_null());
    }
    return arr;
}

static json_t *convert(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n, enum ftype t,
                       const struct schema *sub, const char *where)
{
    switch (t) {
    case F_STR:
        return expect(ctx, n, LKB_Y_STR, where, "a string") ? scalar_json(ctx, n) : NULL;
    case F_MODE:
        if (!expect(ctx, n, LKB_Y_STR, where, "a quoted octal string such as \"0644\""))
            return NULL;
        if (lkb_cfg_parse_mode(n->text) < 0) {
            lkb_cfg_diag(ctx, n, "%s: '%s' is not an octal mode (e.g. \"0644\")", where, n->text);
            return NULL;
        }
        return scalar_json(ctx, n);
    case F_BOOL:
        if (n->kind == LKB_Y_STR && (!strcmp(n->text, "yes") || !strcmp(n->text, "no") ||
                                     !strcmp(n->text, "on") || !strcmp(n->text, "off"))) {
            lkb_cfg_diag(ctx, n, "%s: expected true or false, got the string '%s'", where,
                         n->text);
            return NULL;
        }
        return expect(ctx, n, LKB_Y_BOOL, where, "true or false") ? scalar_json(ctx, n) : NULL;
    case F_INT:
        if (whole_float(n))
            return whole_float_json(ctx, n);
        return expect(ctx, n, LKB_Y_INT, where, "an integer") ? scalar_json(ctx, n) : NULL;
    case F_ID:
        if (whole_float(n))
            return whole_float_json(ctx, n);
        if (n->kind == LKB_Y_INT || n->kind == LKB_Y_STR)
            return scalar_json(ctx, n);
        lkb_cfg_diag(ctx, n, "%s: expected an integer id or a name, got %s", where,
                     lkb_ynode_kind_name(n->kind));
        return NULL;
    case F_STRLIST:
        return convert_list(ctx, n, F_STR, NULL, where, "a list of strings");
    case F_IDLIST:
        return convert_list(ctx, n, F_ID, NULL, where, "a list of ids or names");
    case F_OBJLIST:
        return convert_list(ctx, n, F_OBJ, sub, where, "a list of mappings");
    case F_OBJ:
        return convert_object(ctx, n, sub, where);
    case F_STRMAP: {
        if (!expect(ctx, n, LKB_Y_MAP, where, "a mapping of strings"))
            return NULL;
        json_t *obj = json_object();
        lkb_cfg_remember(ctx, obj, n);
        int bad = 0;
        for (size_t i = 0; i < n->n; i++) {
            char w[256];
            json_t *v = convert(ctx, n->items[i], F_STR, NULL,
                                path_of(w, sizeof w, where, n->keys[i]->text));
            if (!v)
                bad = 1;
            else
                json_object_set_new(obj, n->keys[i]->text, v);
        }
        if (bad) {
            json_decref(obj);
            return NULL;
        }
        return obj;
    }
    }
    return NULL;
}

/* Templates need `linuxkit pkg` and a package source tree: refuse clearly
 * instead of LinuxKit's silent blanking of other "@" strings. */
static void check_templates(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *n)
{
    if (n->kind == LKB_Y_STR && n->text[0] == '@') {
        if (strncmp(n->text, "@pkg:", 5) == 0)
            lkb_cfg_diag(ctx, n,
                         "template '%s' is not supported: build the package and write its image "
                         "reference instead",
                         n->text);
    }
    for (size_t i = 0; i < n->n && (n->kind == LKB_Y_SEQ || n->kind == LKB_Y_MAP); i++)
        check_templates(ctx, n->items[i]);
}

json_t *lkb_cfg_schema_root(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *root)
{
    check_templates(ctx, root);
    /* LinuxKit's schema has no type at the top and go-yaml decodes null
     * into an empty struct: an explicitly empty document ("---", "~") is
     * an empty configuration. (An empty file is an error in both.) */
    if (root->kind == LKB_Y_NULL)
        return json_object();
    if (root->kind != LKB_Y_MAP) {
        lkb_cfg_diag(ctx, root, "the configuration must be a mapping, got %s",
                     lkb_ynode_kind_name(root->kind));
        return NULL;
    }
    /* Partial on errors, so the semantic checks still run and every
     * problem of the file is reported at once. */
    return convert_object(ctx, root, &top, "");
}

json_t *lkb_cfg_schema_label(struct lkb_cfg_ctx *ctx, const struct lkb_ynode *root)
{
    if (root->kind != LKB_Y_MAP) {
        lkb_cfg_diag(ctx, root, "label must be a mapping, got %s", lkb_ynode_kind_name(root->kind));
        return NULL;
    }
    static const char *const forbidden[] = {"name", "image"};
    for (size_t i = 0; i < 2; i++) {
        const struct lkb_ynode *v = lkb_ynode_get(root, forbidden[i]);
        if (v)
            lkb_cfg_diag(ctx, v, "%s cannot be set in metadata label", forbidden[i]);
    }
    if (ctx->n_diags)
        return NULL;
    json_t *doc = convert_object(ctx, root, &label, "label");
    if (ctx->n_diags) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
