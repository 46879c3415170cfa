/* A well-formed ABI 1.1 test plugin.
 * "testfmt" declares options, checks them at plan time, may require an
 * image (option `image`), and writes <name>.test (the cmdline) through
 * api->output_open plus <name>.seed (its seed and timestamp).
 * "testfail" fails with a message. */
#include <lkb/plugin.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *value(const struct lkb_build_input *in, const char *name)
{
    const struct lkb_option_value *v = lkb_input_option(in, name);
    return v ? v->value : NULL;
}

static int good_check(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    const char *image = value(in, "image");
    if (value(in, "count") && !strcmp(value(in, "count"), "13"))
        return api->set_error_kind(host, LKB_PLUGIN_ERR_USAGE, "count 13 is unlucky");
    if (image && api->require_image(host, image) != LKB_OK)
        return LKB_FAIL;
    return LKB_OK;
}

static int put(const struct lkb_host_api *api, lkb_host *host, const char *name, const char *text)
{
    int fd;
    if (api->output_open(host, name, &fd) != LKB_OK)
        return LKB_FAIL;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? LKB_OK : api->set_error(host, "short write");
}

static int good_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    char name[512], text[512];
    const char *image = value(in, "image");
    if (image) { /* declared in check: readable without another fetch */
        void *d;
        size_t n;
        if (api->image_read_file(host, image, "bin/busybox", &d, &n) != LKB_OK)
            return LKB_FAIL;
        api->free(d);
    }
    snprintf(name, sizeof name, "%s.test", in->name);
    if (put(api, host, name, in->cmdline ? in->cmdline : "") != LKB_OK)
        return LKB_FAIL;
    snprintf(name, sizeof name, "%s.seed", in->name);
    int len = snprintf(text, sizeof text, "epoch %lld rootfs %s ucode %s greeting %s seed ",
                       (long long)in->source_date_epoch, in->rootfs_tar_path ? "yes" : "no",
                       in->ucode_path ? "yes" : "no", value(in, "greeting"));
    for (int i = 0; i < 32; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "%02x", in->seed[i]);
    return put(api, host, name, text);
}

static int fail_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    return api->set_error(host, "deliberate failure for %s", in->name);
}

static const struct lkb_option_decl options[] = {
    {sizeof(struct lkb_option_decl), LKB_OPT_STRING, "greeting", "hi", "a word"},
    {sizeof(struct lkb_option_decl), LKB_OPT_UINT, "count", NULL, "a number"},
    {sizeof(struct lkb_option_decl), LKB_OPT_SIZE, "big", "1M", "a size"},
    {sizeof(struct lkb_option_decl), LKB_OPT_BOOL, "flag", "false", "a switch"},
    {sizeof(struct lkb_option_decl), LKB_OPT_STRING, "image", NULL, "an image to read"},
};

static const struct lkb_format formats[] = {
    {.struct_size = sizeof(struct lkb_format), .name = "testfmt", .description = "test",
     .build = good_build, .check = good_check, .options = options,
     .n_options = sizeof options / sizeof *options},
    {.struct_size = sizeof(struct lkb_format), .name = "testfail", .description = "fails",
     .build = fail_build},
};

static const struct lkb_plugin plugin = {
    .struct_size = sizeof plugin, .abi_version = LKB_PLUGIN_ABI_VERSION, .name = "good",
    .version = "1", .formats = formats, .n_formats = 2};

static const struct lkb_plugin *entry(const struct lkb_host_api *api)
{
    (void)api;
    return &plugin;
}
LKB_PLUGIN_DEFINE_ENTRY(entry)
