/* An ABI 1.0 plugin built from source on every build: it does not include
 * <lkb/plugin.h> but a local copy of the 1.0 layouts (lkb commit 49f9259),
 * so its struct lkb_format ends at `build` and its struct lkb_plugin has
 * the 1.0 size, whatever the SDK header grows into. It complements the
 * prebuilt abi-1.0/abi10.so (same layouts, an old compiler's output).
 *
 * Format "abi10src" writes <base>.abi10src with what it was given, through
 * 1.0 host functions only, and marks its calls (call_marker.h). */
#include <stdint.h>
#include <stdio.h>

#include "call_marker.h"

/* ---- ABI 1.0 layouts, frozen copy ---- */
typedef struct lkb_host lkb_host;
struct old_option {
    const char *key;
    const char *value;
};
struct old_input_file {
    const char *name;
    const char *path;
};
struct old_build_input {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *format, *arch, *name, *output_dir, *output_base, *kernel_path, *initrd_path,
        *cmdline;
    uint64_t size_bytes;
    const struct old_input_file *dtbs;
    size_t n_dtbs;
    const struct old_option *options;
    size_t n_options;
    const char *rootfs_tar_path;
};
struct old_host_api {
    uint32_t struct_size;
    uint32_t abi_version;
    void (*log)(lkb_host *host, int level, const char *fmt, ...);
    int (*set_error)(lkb_host *host, const char *fmt, ...);
    void (*progress)(lkb_host *host, const char *what, uint64_t done, uint64_t total);
    int (*make_temp_dir)(lkb_host *host, char **path_out);
    int (*image_read_file)(lkb_host *host, const char *image, const char *path, void **data_out,
                           size_t *size_out);
    int (*image_extract_dir)(lkb_host *host, const char *image, const char *path,
                             const char *dest_dir);
    const char *(*option)(lkb_host *host, const char *key);
    int (*write_file_atomic)(lkb_host *host, const char *path, const void *data, size_t size);
    void (*free)(void *ptr);
};
struct old_format {
    uint32_t struct_size;
    const char *name, *description;
    const char *const *arches;
    int (*build)(const struct old_host_api *api, lkb_host *host,
                 const struct old_build_input *input);
};
struct old_plugin {
    uint32_t struct_size;
    uint32_t abi_version;
    const char *name, *version;
    const struct old_format *formats;
    size_t n_formats;
};
/* ---- end of the 1.0 layouts ---- */

static int build(const struct old_host_api *api, lkb_host *host, const struct old_build_input *in)
{
    lkb_test_mark("abi10src build");
    if (in->struct_size < sizeof *in)
        return api->set_error(host, "host input smaller than ABI 1.0");
    const char *greeting = api->option(host, "greeting");
    char text[4096], path[4096];
    int n = snprintf(text, sizeof text,
                     "format: %s\narch: %s\nname: %s\ngreeting: %s\ncmdline: %s\napi: %u\n",
                     in->format, in->arch, in->name, greeting ? greeting : "(none)",
                     in->cmdline ? in->cmdline : "", (unsigned)api->struct_size);
    int p = snprintf(path, sizeof path, "%s.abi10src", in->output_base);
    if (n < 0 || (size_t)n >= sizeof text || p < 0 || (size_t)p >= sizeof path)
        return api->set_error(host, "text or path too long");
    return api->write_file_atomic(host, path, text, (size_t)n);
}

static const struct old_format formats[] = {
    {.struct_size = sizeof(struct old_format),
     .name = "abi10src",
     .description = "ABI 1.0 layouts built from source",
     .build = build},
};

static const struct old_plugin plugin = {.struct_size = sizeof plugin,
                                         .abi_version = 1,
                                         .name = "abi10src",
                                         .version = "1.0",
                                         .formats = formats,
                                         .n_formats = 1};

__attribute__((visibility("default"))) const struct old_plugin *
lkb_plugin_entry_v1(const struct old_host_api *api);
const struct old_plugin *lkb_plugin_entry_v1(const struct old_host_api *api)
{
    (void)api;
    lkb_test_mark("abi10src entry");
    return &plugin;
}
