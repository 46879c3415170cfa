#include "plugin/host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include <unistd.h>
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
    for (size_t i = 0; i < host->n_outputs; i++) {
        free(host->outputs[i].name);
        free(host->outputs[i].format);
    }
    free(host->outputs);
    host->outputs = NULL;
    host->n_outputs = 0;
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

static int api_set_error_kind(lkb_host *host, enum lkb_plugin_error_kind kind, const char *fmt,
                              ...)
{
    if (!host)
        return LKB_FAIL;
    va_list ap;
    va_start(ap, fmt);
    host->err.kind = kind == LKB_PLUGIN_ERR_USAGE ? LKB_ERR_USAGE
                     : kind == LKB_PLUGIN_ERR_IO  ? LKB_ERR_IO
                                                  : LKB_ERR_PLUGIN;
    vsnprintf(host->err.msg, sizeof host->err.msg, fmt, ap);
    va_end(ap);
    return LKB_FAIL;
}

/* Two formats of one build writing the same file (vhd and dynamic-vhd
 * both write NAME.vhd; tar and rpi3 both NAME.tar) would silently keep only
 * the last: refuse the second, naming both. One format may ask again. */
static int claim_output(lkb_host *host, const char *name)
{
    const char *me = host->format_name ? host->format_name : "?";
    for (size_t i = 0; i < host->n_outputs; i++) {
        if (strcmp(host->outputs[i].name, name))
            continue;
        if (!strcmp(host->outputs[i].format, me))
            return LKB_OK;
        return api_set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                  "output %s is also written by format %s of this build: build "
                                  "%s and %s separately or with different -name",
                                  name, host->outputs[i].format, host->outputs[i].format, me);
    }
    struct lkb_host_output *o = realloc(host->outputs, (host->n_outputs + 1) * sizeof *o);
    if (!o)
        return api_set_error(host, "out of memory");
    host->outputs = o;
    o[host->n_outputs] = (struct lkb_host_output){strdup(name), strdup(me)};
    if (!o[host->n_outputs].name || !o[host->n_outputs].format) {
        free(o[host->n_outputs].name);
        free(o[host->n_outputs].format);
        return api_set_error(host, "out of memory");
    }
    host->n_outputs++;
    return LKB_OK;
}

/* Output names are plain file names: the commit renames them into -dir. */
static int output_name_ok(lkb_host *host, const char *name)
{
    if (!host->stage_dir)
        return api_set_error(host, "output %s: outputs can only be created in build()",
                             name ? name : "(null)");
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
        !strncmp(name, ".lkb-", 5) || strlen(name) > 255)
        return api_set_error_kind(host, LKB_PLUGIN_ERR_USAGE,
                                  "output name \"%s\" is not a plain file name",
                                  name ? name : "(null)");
    return claim_output(host, name);
}

static int api_output_open(lkb_host *host, const char *name, int *fd_out)
{
    if (output_name_ok(host, name) != LKB_OK)
        return LKB_FAIL;
    char *p = lkb_fs_join(host->stage_dir, name);
    if (!p)
        return api_set_error(host, "out of memory");
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int e = errno;
    free(p);
    if (fd < 0)
        return api_set_error_kind(host, e == EEXIST ? LKB_PLUGIN_ERR_USAGE : LKB_PLUGIN_ERR_IO,
                                  "output %s: %s", name,
                                  e == EEXIST ? "already written by this build" : strerror(e));
    *fd_out = fd;
    return LKB_OK;
}

static int api_output_path(lkb_host *host, const char *name, char **path_out)
{
    if (output_name_ok(host, name) != LKB_OK)
        return LKB_FAIL;
    if (!(*path_out = lkb_fs_join(host->stage_dir, name)))
        return api_set_error(host, "out of memory");
    return LKB_OK;
}

static int api_require_image(lkb_host *host, const char *image)
{
    if (!host->in_check)
        return api_set_error(host, "require_image(%s) is only allowed in check()",
                             image ? image : "(null)");
    if (!image || !*image)
        return api_set_error_kind(host, LKB_PLUGIN_ERR_USAGE, "require_image: empty reference");
    if (!host->images.require)
        return api_set_error(host, "require_image(%s): no image store in this context", image);
    struct lkb_error e;
    lkb_error_clear(&e);
    if (host->images.require(host->images.ctx, image, &e) < 0) {
        host->err = e; /* keep the kind: a malformed reference is a usage error */
        return LKB_FAIL;
    }
    return LKB_OK;
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
    .set_error_kind = api_set_error_kind,
    .output_open = api_output_open,
    .output_path = api_output_path,
    .require_image = api_require_image,
};

const struct lkb_host_api *lkb_plugin_host_api(void) { return &g_api; }

static int run(struct lkb_host *host, const struct lkb_loaded_format *fmt,
               const struct lkb_build_input *input,
               int (*fn)(const struct lkb_host_api *, lkb_host *, const struct lkb_build_input *),
               struct lkb_error *err)
{
    lkb_error_clear(&host->err);
    host->plugin_name = lkb_format_is_builtin(fmt) ? fmt->fmt.name : fmt->plugin->desc.name;
    host->format_name = fmt->fmt.name;
    int rc = fn(&g_api, host, input);
    host->in_check = 0;
    if (rc == LKB_OK)
        return 0;
    enum lkb_error_kind kind = host->err.kind ? host->err.kind : LKB_ERR_PLUGIN;
    const char *msg = host->err.msg[0] ? host->err.msg : "failed without an error message";
    if (lkb_format_is_builtin(fmt)) /* lkb's own messages need no origin */
        return lkb_error_set(err, kind, "%s", msg);
    return lkb_error_set(err, kind, "format %s (plugin %s): %s", fmt->fmt.name, fmt->plugin->path,
                         msg);
}

int lkb_host_run_check(struct lkb_host *host, const struct lkb_loaded_format *fmt,
                       const struct lkb_build_input *input, struct lkb_error *err)
{
    if (!fmt->fmt.check)
        return 0;
    host->in_check = 1;
    return run(host, fmt, input, fmt->fmt.check, err);
}

int lkb_host_run_build(struct lkb_host *host, const struct lkb_loaded_format *fmt,
                       const struct lkb_build_input *input, struct lkb_error *err)
{
    return run(host, fmt, input, fmt->fmt.build, err);
}
