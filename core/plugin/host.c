#include "plugin/host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/log.h"

void lkb_host_init(struct lkb_host *host, const char *plugin_name)
{
    memset(host, 0, sizeof *host);
    host->plugin_name = plugin_name;
    lkb_error_clear(&host->err);
}

void lkb_host_cleanup(struct lkb_host *host)
{
    for (size_t i = 0; i < host->n_temp_dirs; i++) {
        struct lkb_error e;
        if (lkb_fs_remove_tree(host->temp_dirs[i], &e) < 0)
            lkb_warn("%s", e.msg);
        free(host->temp_dirs[i]);
    }
    free(host->temp_dirs);
    host->temp_dirs = NULL;
    host->n_temp_dirs = 0;
}

static void api_log(lkb_host *host, enum lkb_plugin_log_level level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    enum lkb_log_level l = level <= LKB_PLUGIN_LOG_DEBUG ? (enum lkb_log_level)level
                                                         : LKB_LOG_DEBUG;
    lkb_log(l, "%s: %s", host && host->plugin_name ? host->plugin_name : "plugin", buf);
}

static int api_set_error(lkb_host *host, const char *fmt, ...)
{
    if (!host)
        return LKB_FAIL;
    va_list ap;
    va_start(ap, fmt);
    host->err.kind = LKB_ERR_PLUGIN;
    vsnprintf(host->err.msg, sizeof host->err.msg, fmt, ap);
    va_end(ap);
    return LKB_FAIL;
}

static void api_progress(lkb_host *host, const char *what, uint64_t done, uint64_t total)
{
    if (total)
        lkb_debug("%s: %s %llu/%llu", host->plugin_name, what, (unsigned long long)done,
                  (unsigned long long)total);
    else
        lkb_debug("%s: %s %llu", host->plugin_name, what, (unsigned long long)done);
}

static int api_make_temp_dir(lkb_host *host, char **path_out)
{
    struct lkb_error e;
    char *dir = NULL;
    if (lkb_fs_make_temp_dir("lkb-plugin", &dir, &e) < 0)
        return api_set_error(host, "%s", e.msg);
    char **n = realloc(host->temp_dirs, (host->n_temp_dirs + 1) * sizeof *n);
    char *copy = strdup(dir);
    if (!n || !copy) {
        free(copy);
        if (n)
            host->temp_dirs = n;
        lkb_fs_remove_tree(dir, &e);
        free(dir);
        return api_set_error(host, "out of memory");
    }
    host->temp_dirs = n;
    host->temp_dirs[host->n_temp_dirs++] = dir;
    *path_out = copy;
    return LKB_OK;
}

static int api_image_read_file(lkb_host *host, const char *image, const char *path,
                               void **data_out, size_t *size_out)
{
    if (!host->images.read_file)
        return api_set_error(host, "reading %s from image %s: no image store in this context",
                             path, image);
    struct lkb_error e;
    lkb_error_clear(&e);
    if (host->images.read_file(host->images.ctx, image, path, data_out, size_out, &e) < 0)
        return api_set_error(host, "%s", e.msg);
    return LKB_OK;
}

static int api_image_extract_dir(lkb_host *host, const char *image, const char *path,
                                 const char *dest_dir)
{
    if (!host->images.extract_dir)
        return api_set_error(host, "extracting %s from image %s: no image store in this context",
                             path, image);
    struct lkb_error e;
    lkb_error_clear(&e);
    if (host->images.extract_dir(host->images.ctx, image, path, dest_dir, &e) < 0)
        return api_set_error(host, "%s", e.msg);
    return LKB_OK;
}

static const char *api_option(lkb_host *host, const char *key)
{
    for (size_t i = 0; i < host->n_options; i++)
        if (strcmp(host->options[i].key, key) == 0)
            return host->options[i].value;
    return NULL;
}

static int api_write_file_atomic(lkb_host *host, const char *path, const void *data, size_t size)
{
    struct lkb_error e;
    if (lkb_fs_write_atomic(path, data, size, 0644, &e) < 0)
        return api_set_error(host, "%s", e.msg);
    return LKB_OK;
}

static void api_free(void *p) { free(p); }

static const struct lkb_host_api g_api = {
    .struct_size = sizeof(struct lkb_host_api),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .log = api_log,
    .set_error = api_set_error,
    .progress = api_progress,
    .make_temp_dir = api_make_temp_dir,
    .image_read_file = api_image_read_file,
    .image_extract_dir = api_image_extract_dir,
    .option = api_option,
    .write_file_atomic = api_write_file_atomic,
    .free = api_free,
};

const struct lkb_host_api *lkb_plugin_host_api(void) { return &g_api; }

int lkb_host_run_build(struct lkb_host *host, const struct lkb_loaded_format *fmt,
                       const struct lkb_build_input *input, struct lkb_error *err)
{
    lkb_error_clear(&host->err);
    int rc = fmt->fmt.build(&g_api, host, input);
    if (rc == LKB_OK)
        return 0;
    return lkb_error_set(err, LKB_ERR_PLUGIN, "format %s (plugin %s): %s", fmt->fmt.name,
                         fmt->plugin->path,
                         host->err.msg[0] ? host->err.msg : "failed without an error message");
}
