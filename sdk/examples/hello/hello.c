/* Example lkb output-format plugin, built out of tree against the installed
 * SDK:  cc -shared -fPIC $(pkg-config --cflags lkb-plugin) hello.c -o hello.so
 *
 * Format "hello" writes <name>.hello.txt describing what it was given. It
 * uses only the host function table, never lkb's own symbols. */
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static long long file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int hello_build(const struct lkb_host_api *api, lkb_host *host,
                       const struct lkb_build_input *in)
{
    char text[4096];
    const char *greeting = api->option(host, "greeting");
    int n = snprintf(text, sizeof text,
                     "greeting: %s\narch: %s\nkernel: %lld bytes\ninitrd: %lld bytes\n"
                     "cmdline: %s\ndtbs: %zu\n",
                     greeting ? greeting : "hello", in->arch, file_size(in->kernel_path),
                     file_size(in->initrd_path), in->cmdline ? in->cmdline : "", in->n_dtbs);
    if (n < 0 || (size_t)n >= sizeof text)
        return api->set_error(host, "description too long");
    char path[4096];
    snprintf(path, sizeof path, "%s.hello.txt", in->output_base);
    api->log(host, LKB_PLUGIN_LOG_INFO, "writing %s", path);
    return api->write_file_atomic(host, path, text, (size_t)n);
}

static const struct lkb_format hello_formats[] = {
    {
        .struct_size = sizeof(struct lkb_format),
        .name = "hello",
        .description = "example plugin: a text file describing the build",
        .arches = NULL,
        .build = hello_build,
    },
};

static const struct lkb_plugin hello_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "hello",
    .version = "1.0",
    .formats = hello_formats,
    .n_formats = sizeof hello_formats / sizeof *hello_formats,
};

static const struct lkb_plugin *hello_entry(const struct lkb_host_api *api)
{
    /* Refuse hosts older than the table we need (none yet: ABI 1.0). */
    if (api->abi_version != LKB_PLUGIN_ABI_VERSION)
        return NULL;
    return &hello_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(hello_entry)
