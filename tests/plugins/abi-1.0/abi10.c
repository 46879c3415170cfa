/* A plugin written and compiled against the ABI 1.0 header (lkb commit
 * 49f9259, before ABI 1.1). Its prebuilt abi10.so is kept in the tree so
 * the tests prove that a 1.0 binary still loads and builds; see README.md.
 *
 * Format "abi10" writes <base>.abi10: what it was given, one key per line,
 * using every 1.0 input a plugin of that time could rely on (the rootfs
 * tar, options, dtbs) and the 1.0 host functions. */
#include <lkb/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long long file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int abi10_build(const struct lkb_host_api *api, lkb_host *host,
                       const struct lkb_build_input *in)
{
    if (in->struct_size < offsetof(struct lkb_build_input, rootfs_tar_path) + sizeof(char *))
        return api->set_error(host, "host input too small");
    const char *greeting = api->option(host, "greeting");
    char *tmp = NULL;
    if (api->make_temp_dir(host, &tmp) != LKB_OK)
        return LKB_FAIL;
    api->free(tmp);
    char text[8192];
    int n = snprintf(text, sizeof text,
                     "format: %s\narch: %s\nname: %s\ngreeting: %s\ncmdline: %s\n"
                     "kernel: %d\ninitrd: %d\nrootfs_tar: %d\nn_options: %zu\n",
                     in->format, in->arch, in->name, greeting ? greeting : "(none)",
                     in->cmdline ? in->cmdline : "", file_size(in->kernel_path) > 0,
                     file_size(in->initrd_path) > 0, file_size(in->rootfs_tar_path) > 0,
                     in->n_options);
    if (n < 0 || (size_t)n >= sizeof text)
        return api->set_error(host, "text too long");
    char path[4096];
    snprintf(path, sizeof path, "%s.abi10", in->output_base);
    api->log(host, LKB_PLUGIN_LOG_INFO, "  %s", path);
    return api->write_file_atomic(host, path, text, (size_t)n);
}

static const struct lkb_format formats[] = {
    {.struct_size = sizeof(struct lkb_format),
     .name = "abi10",
     .description = "ABI 1.0 fixture: a text file describing the build",
     .build = abi10_build},
};

static const struct lkb_plugin plugin = {
    .struct_size = sizeof plugin,
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "abi10",
    .version = "1.0",
    .formats = formats,
    .n_formats = 1,
};

static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(entry)
