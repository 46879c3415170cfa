#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildinfo.h"
#include "cli/cli.h"
#include "pipeline/builtin_formats.h"
#include "plugin/loader.h"
#include "plugin/options.h"

static const char formats_usage[] =
    "Usage: lkb formats [-v] [FORMAT]\n"
    "\n"
    "List the output formats lkb can build (built in and from plugins) in one\n"
    "table. -v adds each format's options; FORMAT shows one format in detail:\n"
    "provider, ABI, architectures, inputs and options with type, default and help.\n"
    "Plugins are searched in $LKB_PLUGIN_PATH (colon-separated files or\n"
    "directories), then next to an uninstalled lkb binary, then in\n" LKB_PLUGIN_INSTALL_DIR
    ".\nPlugins that were refused are listed with the reason; the exit code is 6\n"
    "when any plugin was refused.\n";

int lkb_cli_load_formats(struct lkb_plugin_set *set, struct lkb_error *err)
{
    if (lkb_plugin_set_add_builtin(set, lkb_builtin_plugin(), err) < 0)
        return -1;
    return lkb_plugin_set_discover(set, getenv("LKB_PLUGIN_PATH"), LKB_PLUGIN_INSTALL_DIR, err);
}

static void provider(const struct lkb_loaded_format *f, char *buf, size_t size)
{
    if (lkb_format_is_builtin(f))
        snprintf(buf, size, "%s", LKB_BUILTIN_ORIGIN);
    else
        snprintf(buf, size, "%s (%s %s)", f->plugin->path, f->plugin->desc.name,
                 f->plugin->desc.version ? f->plugin->desc.version : "");
}

static void print_options(const struct lkb_loaded_format *f, const char *indent)
{
    if (f->abi_minor == 0) {
        printf("%s(ABI 1.0 plugin: options are not declared, any KEY=VALUE is passed)\n", indent);
        return;
    }
    if (!f->fmt.n_options) {
        printf("%s(no options)\n", indent);
        return;
    }
    for (size_t i = 0; i < f->fmt.n_options; i++) {
        const struct lkb_option_decl *o = &f->fmt.options[i];
        printf("%s%-16s %-7s %-12s %s\n", indent, o->name, lkb_option_type_name(o->type),
               o->default_value ? o->default_value : "-", o->help ? o->help : "");
    }
}

static void print_details(const struct lkb_loaded_format *f)
{
    char prov[4200];
    provider(f, prov, sizeof prov);
    printf("format:       %s\n", f->fmt.name);
    printf("description:  %s\n", f->fmt.description ? f->fmt.description : "");
    printf("provided by:  %s\n", prov);
    printf("plugin ABI:   1.%u\n", f->abi_minor);
    printf("arches:       ");
    if (!f->fmt.arches)
        printf("any");
    for (const char *const *a = f->fmt.arches; a && *a; a++)
        printf("%s%s", a == f->fmt.arches ? "" : ", ", *a);
    if (lkb_format_is_builtin(f))
        printf("\ninputs:       the root tree (built in)\n");
    else
        printf("\ninputs:       kernel, initrd, %scmdline, dtbs%s%s\n",
               f->abi_minor ? "ucode, " : "",
               f->abi_minor == 0 || (f->fmt.inputs & LKB_INPUT_ROOTFS_TAR) ? ", rootfs tar" : "",
               f->abi_minor == 0 ? ", any image (read on demand)" : "");
    printf("plan check:   %s\n", f->fmt.check ? "yes (before anything is fetched)" : "no");
    if (f->abi_minor && !f->fmt.n_options) {
        printf("options:      none\n");
        return;
    }
    printf("options:      -format-opt %s.NAME=VALUE (or NAME=VALUE)\n", f->fmt.name);
    if (f->fmt.n_options)
        printf("  %-16s %-7s %-12s %s\n", "NAME", "TYPE", "DEFAULT", "HELP");
    print_options(f, "  ");
}

int lkb_cmd_formats(int argc, char **argv)
{
    int verbose = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "-help")) {
            fputs(formats_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-verbose"))
            verbose = 1;
        else if (argv[i][0] != '-' && !only)
            only = argv[i];
        else {
            fprintf(stderr, "lkb: error: unexpected argument '%s'\n\n%s", argv[i], formats_usage);
            return 2;
        }
    }
    struct lkb_plugin_set set;
    struct lkb_error err;
    lkb_error_clear(&err);
    lkb_plugin_set_init(&set);
    if (lkb_cli_load_formats(&set, &err) < 0) {
        lkb_plugin_set_free(&set);
        return lkb_cli_fail(&err);
    }
    int rc = 0;
    if (only) {
        const struct lkb_loaded_format *f = lkb_plugin_set_find(&set, only);
        if (f) {
            print_details(f);
        } else {
            fprintf(stderr, "lkb: error: unknown format %s (see 'lkb formats')\n", only);
            rc = 2;
        }
    } else {
        printf("%-20s %-56s %s\n", "FORMAT", "DESCRIPTION", "PROVIDED BY");
        for (size_t i = 0; i < set.n_formats; i++) {
            const struct lkb_loaded_format *f = &set.formats[i];
            char prov[4200];
            provider(f, prov, sizeof prov);
            printf("%-20s %-56s %s\n", f->fmt.name, f->fmt.description ? f->fmt.description : "",
                   prov);
            if (verbose)
                print_options(f, "    ");
        }
    }
    for (size_t i = 0; i < set.n_refused; i++)
        fprintf(stderr, "refused plugin %s: %s\n", set.refused[i].path, set.refused[i].reason);
    if (rc == 0 && set.n_refused)
        rc = 6;
    lkb_plugin_set_free(&set);
    return rc;
}
