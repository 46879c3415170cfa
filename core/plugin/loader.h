/* Discovery, loading and validation of output-format plugins (ABI in
 * sdk/include/lkb/plugin.h, contract in docs/plugin-abi.md).
 *
 * A refused plugin is never called again and never crashes the host: its
 * file name and the reason are kept so `lkb formats` and "unknown format"
 * errors can show them. */
#ifndef LKB_PLUGIN_LOADER_H
#define LKB_PLUGIN_LOADER_H

#include <lkb/plugin.h>
#include <stddef.h>

#include "util/error.h"

/* lkb_loaded_plugin.path of the formats compiled into lkb. */
#define LKB_BUILTIN_ORIGIN "built in"

struct lkb_loaded_plugin {
    char *path; /* realpath of the file, or "built in" */
    void *handle; /* NULL for the built-in formats */
    struct lkb_plugin desc; /* normalized copy: fields the plugin lacks are zero */
};

struct lkb_loaded_format {
    struct lkb_format fmt; /* normalized copy; fmt.options points at `options` */
    const struct lkb_loaded_plugin *plugin;
    unsigned abi_minor;             /* 0: built against ABI 1.0 (no declarations) */
    struct lkb_option_decl *options; /* normalized copies, owned */
};

struct lkb_refused_plugin {
    char *path;
    char *reason;
};

struct lkb_plugin_set {
    struct lkb_loaded_plugin **plugins;
    size_t n_plugins;
    struct lkb_loaded_format *formats;
    size_t n_formats;
    struct lkb_refused_plugin *refused;
    size_t n_refused;
};

void lkb_plugin_set_init(struct lkb_plugin_set *set);
/* dlcloses every plugin. */
void lkb_plugin_set_free(struct lkb_plugin_set *set);

/* Load one plugin file. On refusal returns -1 with the reason in err
 * (message starts with "plugin PATH: ") and records it in set->refused. A
 * file already loaded (same realpath) is skipped and returns 0. */
int lkb_plugin_set_load_file(struct lkb_plugin_set *set, const char *path, struct lkb_error *err);

/* Load every "*.so" in dir, sorted by name. Refusals are recorded, not
 * fatal; a missing directory is not an error. Returns -1 only when the
 * directory exists but cannot be read. */
int lkb_plugin_set_load_dir(struct lkb_plugin_set *set, const char *dir, struct lkb_error *err);

/* The standard search: each entry of `search_path` (colon separated, from
 * LKB_PLUGIN_PATH; files or directories), then the build tree's plugins
 * directory next to the running binary (uninstalled use), then
 * `install_dir`. */
int lkb_plugin_set_discover(struct lkb_plugin_set *set, const char *search_path,
                            const char *install_dir, struct lkb_error *err);

/* Register formats compiled into lkb (static data, validated like a
 * plugin's, listed as provided by "built in"). Call before discovery so a
 * plugin cannot take a built-in name. */
int lkb_plugin_set_add_builtin(struct lkb_plugin_set *set, const struct lkb_plugin *desc,
                               struct lkb_error *err);

/* 1 when the format was compiled into lkb. */
int lkb_format_is_builtin(const struct lkb_loaded_format *f);

const struct lkb_loaded_format *lkb_plugin_set_find(const struct lkb_plugin_set *set,
                                                    const char *format);

/* The host's function table (static, ABI 1.1). */
const struct lkb_host_api *lkb_plugin_host_api(void);

#endif
