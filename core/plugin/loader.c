#include "plugin/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/options.h"
#include "util/fs.h"
#include "util/log.h"

/* Highest ABI number we probe for when the v1 entry is missing, only to give
 * a better message ("built for ABI 3"). */
#define LKB_PLUGIN_PROBE_ABI_MAX 16

void lkb_plugin_set_init(struct lkb_plugin_set *set) { memset(set, 0, sizeof *set); }

void lkb_plugin_set_free(struct lkb_plugin_set *set)
{
    for (size_t i = 0; i < set->n_plugins; i++) {
        struct lkb_loaded_plugin *p = set->plugins[i];
        if (p->handle)
            dlclose(p->handle);
        free(p->path);
        free(p);
    }
    free(set->plugins);
    for (size_t i = 0; i < set->n_formats; i++)
        free(set->formats[i].options);
    free(set->formats);
    for (size_t i = 0; i < set->n_refused; i++) {
        free(set->refused[i].path);
        free(set->refused[i].reason);
    }
    free(set->refused);
    lkb_plugin_set_init(set);
}

/* Record the refusal and fill err. Always returns -1. */
static int refuse(struct lkb_plugin_set *set, struct lkb_error *err, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(struct lkb_plugin_set *set, struct lkb_error *err, const char *path,
                  const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    struct lkb_refused_plugin *r = realloc(set->refused, (set->n_refused + 1) * sizeof *r);
    if (r) {
        set->refused = r;
        r[set->n_refused].path = strdup(path);
        r[set->n_refused].reason = strdup(reason);
        if (r[set->n_refused].path && r[set->n_refused].reason)
            set->n_refused++;
        else {
            free(r[set->n_refused].path);
            free(r[set->n_refused].reason);
        }
    }
    return lkb_error_set(err, LKB_ERR_PLUGIN, "plugin %s: refused: %s", path, reason);
}

/* Copy a plugin-owned struct whose first member is its size: zero-fill what
 * an older plugin lacks; refuse what a newer one added (we cannot know if
 * ignoring it is safe). */
static const char *copy_sized(void *dst, size_t dst_size, const void *src, size_t min_size)
{
    uint32_t size;
    memcpy(&size, src, sizeof size);
    if (size < min_size)
        return "struct_size is smaller than the ABI 1.0 struct (corrupt or not an lkb plugin)";
    if (size > dst_size)
        return "struct_size is larger than this lkb knows (plugin built against a newer SDK)";
    memset(dst, 0, dst_size);
    memcpy(dst, src, size);
    return NULL;
}

static int valid_option_name(const char *s)
{
    if (!s || !*s || strlen(s) > 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* Copy and check a 1.1 format's option declarations: names unique and
 * well-formed, known types, defaults of their type. NULL on success, else
 * a static reason; `bad` names the offending option. */
static const char *copy_options(struct lkb_loaded_format *lf, const char **bad)
{
    const struct lkb_format *f = &lf->fmt;
    *bad = "";
    if (!f->n_options)
        return NULL;
    if (!f->options || f->n_options > 256)
        return "options array missing or larger than 256";
    lf->options = calloc(f->n_options, sizeof *lf->options);
    if (!lf->options)
        return "out of memory";
    uint32_t dsize = f->options[0].struct_size;
    for (size_t i = 0; i < f->n_options; i++) {
        const struct lkb_option_decl *d =
            (const struct lkb_option_decl *)((const char *)f->options + i * (size_t)dsize);
        const char *why = copy_sized(&lf->options[i], sizeof lf->options[i], d,
                                     offsetof(struct lkb_option_decl, help) + sizeof(char *));
        if (!why && d->struct_size != dsize)
            why = "options have different struct_size values";
        if (why)
            return why;
        struct lkb_option_decl *o = &lf->options[i];
        *bad = o->name && valid_option_name(o->name) ? o->name : "?";
        if (!valid_option_name(o->name))
            return "option name invalid (want 1-32 of [a-z0-9_-])";
        if (o->type > LKB_OPT_SIZE)
            return "option has an unknown type";
        for (size_t j = 0; j < i; j++)
            if (strcmp(lf->options[j].name, o->name) == 0)
                return "option declared twice";
        uint64_t num;
        struct lkb_error e;
        if (o->default_value && lkb_option_parse(o->type, o->default_value, &num, &e) < 0)
            return "option default is not of the option's type";
    }
    lf->fmt.options = lf->options;
    return NULL;
}

static int valid_format_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '+' || *s == '.'))
            return 0;
    return 1;
}

/* Find the loaded format named `name`, also among formats staged for the
 * plugin being loaded (so a plugin cannot list a name twice). */
static const char *owner_of(const struct lkb_plugin_set *set,
                            const struct lkb_loaded_format *staged, size_t n_staged,
                            const char *name, const char *self)
{
    for (size_t i = 0; i < set->n_formats; i++)
        if (strcmp(set->formats[i].fmt.name, name) == 0)
            return set->formats[i].plugin->path;
    for (size_t i = 0; i < n_staged; i++)
        if (strcmp(staged[i].fmt.name, name) == 0)
            return self;
    return NULL;
}

static int validate_and_register(struct lkb_plugin_set *set, struct lkb_loaded_plugin *lp,
                                 const struct lkb_plugin *raw, struct lkb_error *err)
{
    const char *path = lp->path;
    const char *why = copy_sized(&lp->desc, sizeof lp->desc, raw,
                                 offsetof(struct lkb_plugin, n_formats) + sizeof(size_t));
    if (why)
        return refuse(set, err, path, "struct lkb_plugin: %s", why);
    if (lp->desc.abi_version != LKB_PLUGIN_ABI_VERSION)
        return refuse(set, err, path, "plugin declares ABI version %u, this lkb supports %u",
                      lp->desc.abi_version, LKB_PLUGIN_ABI_VERSION);
    if (!lp->desc.name || !*lp->desc.name)
        return refuse(set, err, path, "plugin has no name");
    if (lp->desc.n_formats == 0 || !lp->desc.formats)
        return refuse(set, err, path, "plugin provides no formats");
    if (lp->desc.n_formats > 256)
        return refuse(set, err, path, "plugin claims %zu formats", lp->desc.n_formats);

    size_t nf = lp->desc.n_formats;
    struct lkb_loaded_format *staged = calloc(nf, sizeof *staged);
    if (!staged)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* A 1.0 format ends at `build`; anything longer was built against 1.1. */
    const size_t size_1_0 = offsetof(struct lkb_format, build) + sizeof(void (*)(void));
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        /* Formats are an array of the plugin's struct size; step by it. */
        const struct lkb_format *f0 = lp->desc.formats;
        uint32_t fsize = f0->struct_size;
        const struct lkb_format *f =
            (const struct lkb_format *)((const char *)lp->desc.formats + i * (size_t)fsize);
        struct lkb_format *sf = &staged[i].fmt;
        staged[i].plugin = lp;
        why = copy_sized(sf, sizeof *sf, f, size_1_0);
        if (!why && fsize != f->struct_size)
            why = "formats have different struct_size values";
        const char *bad = "";
        if (why) {
            rc = refuse(set, err, path, "format #%zu: %s", i, why);
        } else if (!valid_format_name(sf->name)) {
            rc = refuse(set, err, path,
                        "format #%zu has an invalid name (want 1-64 of [a-z0-9+._-])", i);
        } else if (!sf->build) {
            rc = refuse(set, err, path, "format '%s' has no build function", sf->name);
        } else if ((staged[i].abi_minor = fsize > size_1_0) &&
                   (why = copy_options(&staged[i], &bad))) {
            rc = refuse(set, err, path, "format '%s' option '%s': %s", sf->name, bad, why);
        } else if (sf->inputs & ~(uint32_t)LKB_INPUT_ROOTFS_TAR) {
            /* An input this lkb cannot provide: building without it is not safe. */
            rc = refuse(set, err, path, "format '%s' asks for inputs 0x%x this lkb does not know",
                        sf->name, sf->inputs);
        } else {
            const char *owner = owner_of(set, staged, i, sf->name, path);
            if (owner)
                rc = refuse(set, err, path, "duplicate format name '%s' (already provided by %s)",
                            sf->name, owner);
        }
    }
    if (rc < 0) {
        for (size_t i = 0; i < nf; i++)
            free(staged[i].options);
        free(staged);
        return -1;
    }

    struct lkb_loaded_plugin **pl = realloc(set->plugins, (set->n_plugins + 1) * sizeof *pl);
    struct lkb_loaded_format *fl =
        realloc(set->formats, (set->n_formats + lp->desc.n_formats) * sizeof *fl);
    if (pl)
        set->plugins = pl;
    if (fl)
        set->formats = fl;
    if (!pl || !fl) {
        for (size_t i = 0; i < nf; i++)
            free(staged[i].options);
        free(staged);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    set->plugins[set->n_plugins++] = lp;
    for (size_t i = 0; i < nf; i++)
        set->formats[set->n_formats++] = staged[i];
    free(staged);
    return 0;
}

static int already_loaded(const struct lkb_plugin_set *set, const char *real)
{
    for (size_t i = 0; i < set->n_plugins; i++)
        if (strcmp(set->plugins[i]->path, real) == 0)
            return 1;
    return 0;
}

int lkb_plugin_set_load_file(struct lkb_plugin_set *set, const char *path, struct lkb_error *err)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return lkb_error_errno(err, LKB_ERR_PLUGIN, errno, "plugin %s", path);
    if (already_loaded(set, real))
        return 0;

    /* RTLD_NOW: unresolved symbols are a refusal now, not a crash mid-build.
     * RTLD_LOCAL: plugins cannot see or clash with each other. */
    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return refuse(set, err, real, "cannot load: %s", e ? e : "unknown dlopen error");
    }
    lkb_plugin_entry_v1_fn entry;
    void *sym = dlsym(h, LKB_PLUGIN_ENTRY_V1);
    if (!sym) {
        for (int v = LKB_PLUGIN_PROBE_ABI_MAX; v >= 2; v--) {
            char name[64];
            snprintf(name, sizeof name, "lkb_plugin_entry_v%d", v);
            if (dlsym(h, name)) {
                dlclose(h);
                return refuse(set, err, real,
                              "built for plugin ABI %d (exports %s); this lkb supports ABI %u", v,
                              name, LKB_PLUGIN_ABI_VERSION);
            }
        }
        dlclose(h);
        return refuse(set, err, real, "missing entry symbol '%s' (not an lkb format plugin?)",
                      LKB_PLUGIN_ENTRY_V1);
    }
    /* POSIX guarantees object/function pointer conversion for dlsym. */
    memcpy(&entry, &sym, sizeof entry);
    const struct lkb_plugin *raw = entry(lkb_plugin_host_api());
    if (!raw) {
        dlclose(h);
        return refuse(set, err, real, "entry point declined to load (returned NULL)");
    }

    struct lkb_loaded_plugin *lp = calloc(1, sizeof *lp);
    if (!lp || !(lp->path = strdup(real))) {
        free(lp);
        dlclose(h);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    lp->handle = h;
    if (validate_and_register(set, lp, raw, err) < 0) {
        free(lp->path);
        free(lp);
        dlclose(h);
        return -1;
    }
    lkb_debug("loaded plugin %s (%s %s)", real, lp->desc.name,
              lp->desc.version ? lp->desc.version : "?");
    return 0;
}

static int is_so(const char *name)
{
    size_t len = strlen(name);
    return len >= 4 && strcmp(name + len - 3, ".so") == 0;
}

int lkb_plugin_set_load_dir(struct lkb_plugin_set *set, const char *dir, struct lkb_error *err)
{
    char **names;
    size_t n;
    if (lkb_fs_list_dir(dir, is_so, &names, &n, err) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        err->kind = LKB_ERR_PLUGIN;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char *path = lkb_fs_join(dir, names[i]);
        struct lkb_error e;
        lkb_error_clear(&e);
        if (!path || lkb_plugin_set_load_file(set, path, &e) < 0)
            lkb_debug("%s", path ? e.msg : "out of memory");
        free(path);
    }
    lkb_fs_names_free(names, n);
    return 0;
}

static int load_entry(struct lkb_plugin_set *set, const char *p, struct lkb_error *err)
{
    struct stat st;
    if (stat(p, &st) < 0)
        return 0; /* a stale path entry is not worth failing a build */
    if (S_ISDIR(st.st_mode))
        return lkb_plugin_set_load_dir(set, p, err);
    struct lkb_error e;
    lkb_error_clear(&e);
    if (lkb_plugin_set_load_file(set, p, &e) < 0)
        lkb_debug("%s", e.msg);
    return 0;
}

int lkb_plugin_set_discover(struct lkb_plugin_set *set, const char *search_path,
                            const char *install_dir, struct lkb_error *err)
{
    if (search_path && *search_path) {
        char *copy = strdup(search_path);
        if (!copy)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        char *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
            if (load_entry(set, tok, err) < 0) {
                free(copy);
                return -1;
            }
        }
        free(copy);
    }
    /* Uninstalled use: build/lkb finds build/plugins. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *dir = lkb_fs_join(exe, "plugins"), *marker = lkb_fs_join(exe, "CMakeCache.txt");
            int rc = !dir || !marker ? lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory")
                     : access(marker, F_OK) == 0 ? load_entry(set, dir, err)
                                                 : 0;
            free(dir);
            free(marker);
            if (rc < 0)
                return -1;
        }
    }
    if (install_dir && *install_dir)
        return load_entry(set, install_dir, err);
    return 0;
}

int lkb_plugin_set_add_builtin(struct lkb_plugin_set *set, const struct lkb_plugin *desc,
                               struct lkb_error *err)
{
    struct lkb_loaded_plugin *lp = calloc(1, sizeof *lp);
    if (!lp || !(lp->path = strdup(LKB_BUILTIN_ORIGIN))) {
        free(lp);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (validate_and_register(set, lp, desc, err) < 0) {
        free(lp->path);
        free(lp);
        return -1;
    }
    return 0;
}

int lkb_format_is_builtin(const struct lkb_loaded_format *f) { return f->plugin->handle == NULL; }

const struct lkb_loaded_format *lkb_plugin_set_find(const struct lkb_plugin_set *set,
                                                    const char *format)
{
    for (size_t i = 0; i < set->n_formats; i++)
        if (strcmp(set->formats[i].fmt.name, format) == 0)
            return &set->formats[i];
    return NULL;
}
