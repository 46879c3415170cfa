#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildinfo.h"
#include "cli/cli.h"
#include "pipeline/plan.h"
#include "plugin/loader.h"

static const char formats_usage[] =
    "Usage: lkb formats\n"
    "\n"
    "List the output formats lkb can build and the plugin file providing each.\n"
    "Plugins are searched in $LKB_PLUGIN_PATH (colon-separated files or\n"
    "directories), then next to an uninstalled lkb binary, then in\n" LKB_PLUGIN_INSTALL_DIR
    ".\nPlugins that were refused are listed with the reason; the exit code is 6\n"
    "when any plugin was refused.\n";

int lkb_cmd_formats(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "-help") == 0) {
            fputs(formats_usage, stdout);
            return 0;
        }
        fprintf(stderr, "lkb: error: formats takes no arguments\n\n%s", formats_usage);
        return 2;
    }
    struct lkb_plugin_set set;
    struct lkb_error err;
    lkb_error_clear(&err);
    lkb_plugin_set_init(&set);
    if (lkb_plugin_set_discover(&set, getenv("LKB_PLUGIN_PATH"), LKB_PLUGIN_INSTALL_DIR, &err) <
        0) {
        lkb_plugin_set_free(&set);
        return lkb_cli_fail(&err);
    }
    printf("%-20s %-56s %s\n", "FORMAT", "DESCRIPTION", "PROVIDED BY");
    size_t nb;
    const struct lkb_builtin_info *b = lkb_builtin_formats(&nb);
    for (size_t i = 0; i < nb; i++)
        printf("%-20s %-56s %s\n", b[i].name, b[i].description, "built in");
    for (size_t i = 0; i < set.n_formats; i++) {
        const struct lkb_loaded_format *f = &set.formats[i];
        printf("%-20s %-56s %s (%s %s)\n", f->fmt.name,
               f->fmt.description ? f->fmt.description : "", f->plugin->path,
               f->plugin->desc.name, f->plugin->desc.version ? f->plugin->desc.version : "");
    }
    for (size_t i = 0; i < set.n_refused; i++)
        fprintf(stderr, "refused plugin %s: %s\n", set.refused[i].path, set.refused[i].reason);
    int rc = set.n_refused ? 6 : 0;
    lkb_plugin_set_free(&set);
    return rc;
}
