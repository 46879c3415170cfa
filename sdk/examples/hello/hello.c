/* Example lkb output-format plugin, built out of tree against the installed
 * SDK:  cc -shared -fPIC $(pkg-config --cflags lkb-plugin) hello.c -o hello.so
 *
 * Format "hello" writes <name>.hello.txt describing what it was given. It
 * uses only the host function table, never lkb's own symbols, and shows
 * the ABI 1.1 pieces: a declared option, a plan-time check, an output
 * opened through the host (committed only when the whole build succeeds)
 * and the build's reproducible timestamp and seed. */
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static long long file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Declared options: `lkb formats hello` lists them; anything else given
 * with -format-opt is refused before the build fetches anything. */
static const struct lkb_option_decl hello_options[] = {
    {sizeof(struct lkb_option_decl), LKB_OPT_STRING, "greeting", "hello",
     "first line of the text file"},
    {sizeof(struct lkb_option_decl), LKB_OPT_UINT, "repeat", "1",
     "how many times to write the greeting (1-10)"},
};

/* The host checked the type; the range is ours to check, at plan time. */
static int hello_check(const struct lkb_host_api *api, lkb_host *host,
                       const struct lkb_build_input *in)
{
    uint64_t n = lkb_input_option(in, "repeat")->number;
    if (n < 1 || n > 10)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE, "repeat=%llu: want 1 to 10",
                                   (unsigned long long)n);
    return LKB_OK;
}

static int hello_build(const struct lkb_host_api *api, lkb_host *host,
                       const struct lkb_build_input *in)
{
    char text[4096];
    size_t len = 0;
    const struct lkb_option_value *g = lkb_input_option(in, "greeting");
    for (uint64_t i = 0; i < lkb_input_option(in, "repeat")->number; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "greeting: %s\n", g->value);
    int n = snprintf(text + len, sizeof text - len,
                     "arch: %s\nkernel: %lld bytes\ninitrd: %lld bytes\ncmdline: %s\ndtbs: %zu\n"
                     "source_date_epoch: %lld\nseed: %02x%02x%02x%02x...\n",
                     in->arch, file_size(in->kernel_path), file_size(in->initrd_path),
                     in->cmdline ? in->cmdline : "", in->n_dtbs,
                     (long long)in->source_date_epoch, in->seed[0], in->seed[1], in->seed[2],
                     in->seed[3]);
    if (n < 0 || (size_t)n >= sizeof text - len)
        return api->set_error(host, "description too long");
    len += (size_t)n;

    char name[512];
    snprintf(name, sizeof name, "%s.hello.txt", in->name);
    int fd;
    if (api->output_open(host, name, &fd) != LKB_OK)
        return LKB_FAIL;
    ssize_t w = write(fd, text, len);
    close(fd);
    if (w != (ssize_t)len)
        return api->set_error_kind(host, LKB_PLUGIN_ERR_IO, "writing %s failed", name);
    return LKB_OK;
}

static const struct lkb_format hello_formats[] = {
    {
        .struct_size = sizeof(struct lkb_format),
        .name = "hello",
        .description = "example plugin: a text file describing the build",
        .arches = NULL,
        .build = hello_build,
        .check = hello_check,
        .options = hello_options,
        .n_options = sizeof hello_options / sizeof *hello_options,
    },
};

static const struct lkb_plugin hello_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "hello",
    .version = "1.1",
    .formats = hello_formats,
    .n_formats = sizeof hello_formats / sizeof *hello_formats,
};

static const struct lkb_plugin *hello_entry(const struct lkb_host_api *api)
{
    /* We need the ABI 1.1 members: refuse an older lkb politely. */
    if (api->abi_version != LKB_PLUGIN_ABI_VERSION || !LKB_API_HAS(api, output_open)) {
        api->log(NULL, LKB_PLUGIN_LOG_ERROR, "hello needs lkb with plugin ABI 1.1");
        return NULL;
    }
    return &hello_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(hello_entry)
