#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "util/tempfiles.h"

static const char usage[] =
    "Usage: lkb COMMAND [OPTIONS]\n"
    "\n"
    "Build LinuxKit-compatible OS images without Docker or root.\n"
    "\n"
    "Commands:\n"
    "  build     build an image from LinuxKit YAML files\n"
    "  formats   list output formats and the plugins providing them\n"
    "  cache     inspect and manage the local image cache\n"
    "  run       boot an output in QEMU (lkb run [qemu] PREFIX|FILE)\n"
    "  version   print version information\n"
    "\n"
    "Run 'lkb COMMAND --help' for a command's options, 'lkb help COMMAND' for its\n"
    "manual page. Exit codes: 0 success,\n"
    "1 internal error, 2 usage, 3 configuration, 4 fetch/cache, 5 build or I/O,\n"
    "6 plugin (see docs/cli.md).\n";

int lkb_cli_fail(const struct lkb_error *err)
{
    fprintf(stderr, "lkb: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return lkb_error_exit_code(err->kind == LKB_ERR_NONE ? LKB_ERR_INTERNAL : err->kind);
}

static int is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "-help") == 0 ||
           strcmp(s, "help") == 0;
}

int lkb_cli_main(int argc, char **argv)
{
    struct lkb_error err;
    if (lkb_temp_install_signal_cleanup(&err) < 0)
        return lkb_cli_fail(&err);
    if (argc > 2 && strcmp(argv[1], "help") == 0)
        return lkb_cmd_help(argc - 1, argv + 1);
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"build", lkb_cmd_build},
        {"formats", lkb_cmd_formats},
        {"cache", lkb_cmd_cache},
        {"run", lkb_cmd_run},
        {"version", lkb_cmd_version},
        {"--version", lkb_cmd_version},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "lkb: error: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
