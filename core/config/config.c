#include "config/config.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/internal.h"
#include "oci/oci.h"
#include "util/fs.h"

struct lkb_config *lkb_config_new(void)
{
    struct lkb_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->kernel = json_object();
    c->init = json_array();
    c->onboot = json_array();
    c->onshutdown = json_array();
    c->services = json_array();
    c->volumes = json_array();
    c->files = json_array();
    if (!c->kernel || !c->init || !c->onboot || !c->onshutdown || !c->services || !c->volumes ||
        !c->files) {
        lkb_config_free(c);
        return NULL;
    }
    return c;
}

static void free_diags(struct lkb_config *c)
{
    for (size_t i = 0; i < c->n_diags; i++)
        free(c->diags[i]);
    free(c->diags);
    c->diags = NULL;
    c->n_diags = 0;
}

void lkb_config_free(struct lkb_config *c)
{
    if (!c)
        return;
    json_decref(c->kernel);
    json_decref(c->init);
    json_decref(c->onboot);
    json_decref(c->onshutdown);
    json_decref(c->services);
    json_decref(c->volumes);
    json_decref(c->files);
    free(c->locs);
    for (size_t i = 0; i < c->n_names; i++)
        free(c->names[i]);
    free(c->names);
    free_diags(c);
    free(c);
}

static const char *where_of(const struct lkb_config *cfg, const json_t *parent, const char *key,
                            const json_t *node, char *buf, size_t len)
{
    const struct lkb_config_loc *l;
    if (lkb_cfg_find_loc(cfg, parent, key, node, &l))
        snprintf(buf, len, "%s:%d:%d", l->file, l->line, l->col);
    else
        snprintf(buf, len, "?");
    return buf;
}

const char *lkb_config_where(const struct lkb_config *cfg, const json_t *node, char *buf,
                             size_t len)
{
    return where_of(cfg, NULL, NULL, node, buf, len);
}

const char *lkb_config_where_key(const struct lkb_config *cfg, const json_t *obj,
                                 const char *key, char *buf, size_t len)
{
    return where_of(cfg, obj, key, NULL, buf, len);
}

/* A diagnostic at a converted value's location. */
static void vdiag(struct lkb_cfg_ctx *ctx, const json_t *parent, const char *key,
                  const json_t *node, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct lkb_ynode at = {.line = 1, .col = 1};
    const struct lkb_config_loc *l;
    if (lkb_cfg_find_loc(ctx->cfg, parent, key, node, &l)) {
        at.line = l->line;
        at.col = l->col;
    }
    lkb_cfg_diag(ctx, &at, "%s", msg);
}

static void diag_at(struct lkb_cfg_ctx *ctx, const json_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void diag_at(struct lkb_cfg_ctx *ctx, const json_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(ctx, NULL, NULL, node, fmt, ap);
    va_end(ap);
}

/* At the value of obj's member key: booleans have no location of their own. */
static void diag_key(struct lkb_cfg_ctx *ctx, const json_t *obj, const char *key,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void diag_key(struct lkb_cfg_ctx *ctx, const json_t *obj, const char *key,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(ctx, obj, key, NULL, fmt, ap);
    va_end(ap);
}

int lkb_config_canonical_image(const char *image, char **out, struct lkb_error *err)
{
    return lkb_oci_ref_canonical(image, out, err);
}

static void check_ref(struct lkb_cfg_ctx *ctx, const json_t *v, const char *where)
{
    struct lkb_error e;
    struct lkb_oci_ref r;
    if (!json_is_string(v))
        return;
    const char *text = json_string_value(v);
    if (text[0] == '@') {
        /* @pkg: has its own message (check_templates); LinuxKit blanks
         * any other '@' string, which then fails as an empty reference. */
        if (strncmp(text, "@pkg:", 5) != 0)
            diag_at(ctx, v,
                    "%s: '%s' is not an image reference (only @pkg: templates start with '@', "
                    "and those are not supported)",
                    where, text);
        return;
    }
    /* The registry's full grammar now, located, not at build time. */
    if (lkb_oci_ref_parse(text, &r, &e) < 0)
        diag_at(ctx, v, "%s: %s", where, e.msg);
    lkb_oci_ref_free(&r);
}

/* The first of the first `limit` entries of list named `name`. */
static const json_t *find_named(const json_t *list, const char *name, size_t limit)
{
    for (size_t j = 0; j < limit && j < json_array_size(list); j++) {
        const char *n = json_string_value(json_object_get(json_array_get(list, j), "name"));
        if (n && strcmp(n, name) == 0)
            return json_array_get(list, j);
    }
    return NULL;
}

static void check_entries(struct lkb_cfg_ctx *ctx, const json_t *list, const char *section,
                          const json_t *merged_services)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!json_is_object(e))
            continue; /* type error already reported */
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", section, i);
        const json_t *name = json_object_get(e, "name");
        const json_t *image = json_object_get(e, "image");
        if (!name)
            diag_at(ctx, e, "%s: missing required key 'name'", where);
        if (!image)
            diag_at(ctx, e, "%s: missing required key 'image'", where);
        if (json_is_string(name)) {
            const char *n = json_string_value(name);
            /* Names become directory names and runc/containerd ids. */
            if (!*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, ".."))
                diag_at(ctx, name, "%s: invalid name '%s' (must be non-empty, without '/')",
                        where, n);
            else if (strcmp(section, "services") == 0) {
                const json_t *prev = find_named(merged_services, n, (size_t)-1);
                if (!prev)
                    prev = find_named(list, n, i);
                if (prev) {
                    char w[256];
                    diag_at(ctx, name, "%s: duplicate service name '%s' (first at %s)", where, n,
                            lkb_config_where(ctx->cfg, json_object_get(prev, "name"), w,
                                             sizeof w));
                }
            }
        }
        if (image)
            check_ref(ctx, image, where);
    }
}

static int volume_name_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static void check_volumes(struct lkb_cfg_ctx *ctx, const json_t *list, const json_t *merged)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (!json_is_object(v))
            continue;
        char where[64];
        snprintf(where, sizeof where, "volumes[%zu]", i);
        const json_t *name = json_object_get(v, "name");
        if (!name) {
            diag_at(ctx, v, "%s: missing required key 'name'", where);
        } else if (json_is_string(name)) {
            const char *n = json_string_value(name);
            if (!volume_name_ok(n))
                diag_at(ctx, name, "%s: invalid volume name '%s' (want [a-z0-9_-]+)", where, n);
            const json_t *prev = find_named(merged, n, (size_t)-1);
            if (!prev)
                prev = find_named(list, n, i);
            if (prev) {
                char w[256];
                diag_at(ctx, name, "%s: duplicate volume name '%s' (first at %s)", where, n,
                        lkb_config_where(ctx->cfg, json_object_get(prev, "name"), w, sizeof w));
            }
        }
        const json_t *fmt = json_object_get(v, "format");
        const char *f = json_is_string(fmt) ? json_string_value(fmt) : "filesystem";
        if (strcmp(f, "filesystem") != 0 && strcmp(f, "oci") != 0)
            diag_key(ctx, v, "format", "%s: format must be 'filesystem' or 'oci', got '%s'", where,
                     f);
        const json_t *plats = json_object_get(v, "platforms");
        if (json_array_size(plats) && strcmp(f, "oci") != 0)
            diag_key(ctx, v, "platforms", "%s: platforms only apply to format: oci", where);
        size_t k;
        json_t *p;
        json_array_foreach(plats, k, p)
        {
            const char *s = json_string_value(p);
            if (!s)
                continue;
            const char *slash = strchr(s, '/');
            if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') == slash + 1)
                diag_at(ctx, p, "%s: platform '%s' is not os/arch[/variant]", where, s);
        }
        const json_t *img = json_object_get(v, "image");
        if (json_is_string(img) && *json_string_value(img))
            check_ref(ctx, img, where);
    }
}

static void check_files(struct lkb_cfg_ctx *ctx, const json_t *list)
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        if (!json_is_object(f))
            continue;
        char where[64];
        snprintf(where, sizeof where, "files[%zu]", i);
        const json_t *path = json_object_get(f, "path");
        const char *p = json_is_string(path) ? json_string_value(path) : "";
        if (path && !json_is_string(path))
            ; /* type error already reported */
        else if (!*p)
            diag_at(ctx, path ? path : f, "%s: did not specify path for file", where);
        int dir = json_is_true(json_object_get(f, "directory"));
        const json_t *sym = json_object_get(f, "symlink");
        const json_t *contents = json_object_get(f, "contents");
        const json_t *source = json_object_get(f, "source");
        const json_t *meta = json_object_get(f, "metadata");
        if (!dir && !sym && !contents) {
            if (!source && !meta)
                diag_at(ctx, f, "%s: contents of file (%s) not specified", where, p);
            else if (source && meta)
                diag_key(ctx, f, "metadata", "%s: specified source and metadata for file: %s",
                         where, p);
        } else {
            if (meta)
                diag_key(ctx, f, "metadata", "%s: metadata cannot be combined with %s", where,
                        dir ? "directory" : sym ? "symlink" : "contents");
            if (source)
                diag_key(ctx, f, "source", "%s: source cannot be combined with %s", where,
                        dir ? "directory" : sym ? "symlink" : "contents");
            if (dir && contents)
                diag_key(ctx, f, "contents", "%s: directory with contents not allowed", where);
            if (dir && sym)
                diag_key(ctx, f, "symlink", "%s: directory with symlink not allowed", where);
            if (sym && contents)
                diag_key(ctx, f, "contents", "%s: symlink with contents not allowed", where);
        }
        if (json_is_string(meta)) {
            const char *m = json_string_value(meta);
            if (strcmp(m, "yaml") != 0 && strcmp(m, "json") != 0)
                diag_key(ctx, f, "metadata",
                         "%s: unsupported metadata type: %s (want yaml or json)", where,
                        m);
        }
        /* LinuxKit writes `optional: false` on every file; `true` without a
         * source would do nothing. */
        if (json_is_true(json_object_get(f, "optional")) && !source)
            diag_key(ctx, f, "optional", "%s: optional only applies to source", where);
    }
}

static const char *intern(struct lkb_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_names; i++)
        if (strcmp(cfg->names[i], name) == 0)
            return cfg->names[i];
    char **n = realloc(cfg->names, (cfg->n_names + 1) * sizeof *n);
    if (!n)
        return NULL;
    cfg->names = n;
    if (!(n[cfg->n_names] = strdup(name)))
        return NULL;
    return n[cfg->n_names++];
}

static const char *diag_file_len_base;
static void diag_pos(const char *d, long *line, long *col)
{
    *line = *col = 0;
    sscanf(d + strlen(diag_file_len_base), ":%ld:%ld", line, col);
}
static int cmp_diag(const void *a, const void *b)
{
    long la, ca, lb, cb;
    diag_pos(*(char *const *)a, &la, &ca);
    diag_pos(*(char *const *)b, &lb, &cb);
    return la != lb ? (la < lb ? -1 : 1) : ca != cb ? (ca < cb ? -1 : 1) : 0;
}

static int join_diags(struct lkb_config *cfg, struct lkb_cfg_ctx *ctx, struct lkb_error *err)
{
    /* Report in source order, as a reader scans the file. */
    diag_file_len_base = ctx->file;
    qsort(ctx->diags, ctx->n_diags, sizeof *ctx->diags, cmp_diag);
    free_diags(cfg);
    cfg->diags = ctx->diags;
    cfg->n_diags = ctx->n_diags;
    lkb_error_set(err, LKB_ERR_CONFIG, "%s", ctx->n_diags ? cfg->diags[0] : "invalid");
    for (size_t i = 1; i < ctx->n_diags; i++) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, "\n%s", cfg->diags[i]);
    }
    if (ctx->n_diags > 1) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, "\n%zu errors", ctx->n_diags);
    }
    return -1;
}

static void merge_kernel(json_t *dst, const json_t *src)
{
    static const char *const nonempty[] = {"image", "cmdline", "binary"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(src, nonempty[i]);
        /* A later file cannot clear these (LinuxKit rule). */
        if (v && *json_string_value(v))
            json_object_set(dst, nonempty[i], v);
    }
    static const char *const present[] = {"tar", "ucode"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(src, present[i]);
        if (v)
            json_object_set(dst, present[i], v);
    }
}

int lkb_config_load_buffer(struct lkb_config *cfg, const char *name, const char *buf, size_t len,
                           struct lkb_error *err)
{
    const char *file = intern(cfg, name);
    if (!file)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    struct lkb_ynode *root;
    if (lkb_yaml_parse(file, buf, len, &root, err) < 0)
        return -1;
    size_t locs_before = cfg->n_locs;
    struct lkb_cfg_ctx ctx = {.cfg = cfg, .file = file};
    json_t *doc = lkb_cfg_schema_root(&ctx, root);
    lkb_ynode_free(root);
    if (doc) {
        /* kernel.image "" is no kernel: LinuxKit writes it so. */
        const json_t *kimg = json_object_get(json_object_get(doc, "kernel"), "image");
        if (json_is_string(kimg) && *json_string_value(kimg))
            check_ref(&ctx, kimg, "kernel");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, "init"), i, v)
        {
            char w[32];
            snprintf(w, sizeof w, "init[%zu]", i);
            check_ref(&ctx, v, w);
        }
        check_entries(&ctx, json_object_get(doc, "onboot"), "onboot", cfg->services);
        check_entries(&ctx, json_object_get(doc, "onshutdown"), "onshutdown", cfg->services);
        check_entries(&ctx, json_object_get(doc, "services"), "services", cfg->services);
        check_volumes(&ctx, json_object_get(doc, "volumes"), cfg->volumes);
        check_files(&ctx, json_object_get(doc, "files"));
    }
    if (ctx.oom) {
        json_decref(doc);
        cfg->n_locs = locs_before;
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (ctx.n_diags) {
        json_decref(doc);
        cfg->n_locs = locs_before; /* the values they point to are gone */
        return join_diags(cfg, &ctx, err);
    }
    merge_kernel(cfg->kernel, json_object_get(doc, "kernel"));
    json_t *sections[][2] = {{cfg->init, json_object_get(doc, "init")},{cfg->onboot, json_object_get(doc, "onboot")},
                             {cfg->onshutdown, json_object_get(doc, "onshutdown")},
                             {cfg->services, json_object_get(doc, "services")},
                             {cfg->volumes, json_object_get(doc, "volumes")},
                             {cfg->files, json_object_get(doc, "files")}};
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
        if (sections[i][1])
            json_array_extend(sections[i][0], sections[i][1]);
    json_decref(doc);
    free_diags(cfg);
    return 0;
}

int lkb_config_load_file(struct lkb_config *cfg, const char *path, struct lkb_error *err)
{
    char *data = NULL;
    size_t len = 0;
    if (strcmp(path, "-") == 0) {
        if (lkb_fs_read_fd(STDIN_FILENO, 65536, "stdin", &data, &len, err) < 0)
            return -1;
    } else if (lkb_fs_read_file(path, &data, &len, err) < 0) {
        err->kind = LKB_ERR_CONFIG;
        return -1;
    }
    int rc = lkb_config_load_buffer(cfg, strcmp(path, "-") == 0 ? "<stdin>" : path, data, len,
                                    err);
    free(data);
    return rc;
}

int lkb_config_resolve_id(const struct lkb_config *cfg, const json_t *value, uint32_t *out,
                          struct lkb_error *err)
{
    if (!value || json_is_null(value)) {
        *out = 0;
        return 0;
    }
    if (json_is_integer(value)) {
        *out = (uint32_t)json_integer_value(value);
        return 0;
    }
    const char *s = json_string_value(value);
    if (!s)
        return lkb_error_set(err, LKB_ERR_CONFIG, "id must be an integer or a name");
    if (!*s || strcmp(s, "root") == 0) {
        *out = 0;
        return 0;
    }
    /* Entries get 100, 101, ... in onboot, onshutdown, services order; a
     * repeated name keeps the later id (LinuxKit's table). */
    const json_t *lists[] = {cfg->onboot, cfg->onshutdown, cfg->services};
    uint32_t id = 100, found = 0;
    int have = 0;
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(lists[l], i, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            if (n && strcmp(n, s) == 0)
                found = id, have = 1;
            id++;
        }
    }
    if (!have) {
        char w[256];
        return lkb_error_set(err, LKB_ERR_CONFIG,
                             "%s: cannot find id: %s (names must be onboot/onshutdown/services "
                             "entry names)",
                             lkb_config_where(cfg, value, w, sizeof w), s);
    }
    *out = found;
    return 0;
}

int lkb_config_parse_label(const char *text, const char *what, json_t **out,
                           struct lkb_error *err)
{
    *out = NULL;
    if (!text || !*text)
        return 0;
    char name[512];
    snprintf(name, sizeof name, "label org.mobyproject.config of %s", what);
    struct lkb_ynode *root;
    if (lkb_yaml_parse(name, text, strlen(text), &root, err) < 0)
        return -1;
    struct lkb_config *tmp = lkb_config_new();
    if (!tmp) {
        lkb_ynode_free(root);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    struct lkb_cfg_ctx ctx = {.cfg = tmp, .file = name};
    json_t *doc = lkb_cfg_schema_label(&ctx, root);
    lkb_ynode_free(root);
    int rc = 0;
    if (ctx.n_diags) {
        json_decref(doc);
        rc = join_diags(tmp, &ctx, err);
    } else {
        *out = doc;
    }
    lkb_config_free(tmp);
    return rc;
}

long lkb_config_parse_mode(const char *s) { return lkb_cfg_parse_mode(s); }
