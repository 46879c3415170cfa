/* The rpi3 output format. Work in progress: the plugin registers its format so
 * packaging and discovery are exercised, and refuses to build with a clear
 * message until the format is implemented (see the issue tracker). */
#include <lkb/plugin.h>

static int rpi3_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in)
{
    (void)in;
    return api->set_error(host, "the rpi3 format is not implemented yet in this version of lkb");
}

static const struct lkb_format rpi3_formats[] = {
    {.struct_size = sizeof(struct lkb_format),
     .name = "rpi3",
     .description = "Raspberry Pi 3 SD card tar (firmware, u-boot, boot.scr)",
     .build = rpi3_build},
};

static const struct lkb_plugin rpi3_plugin = {
    .struct_size = sizeof(struct lkb_plugin),
    .abi_version = LKB_PLUGIN_ABI_VERSION,
    .name = "rpi3",
    .version = "0.1",
    .formats = rpi3_formats,
    .n_formats = 1,
};

static const struct lkb_plugin *rpi3_entry(const struct lkb_host_api *api)
{
    (void)api;
    return &rpi3_plugin;
}

LKB_PLUGIN_DEFINE_ENTRY(rpi3_entry)
