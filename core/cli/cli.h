/* The `lkb` command line: sub-command dispatch and LinuxKit-compatible
 * flag parsing (`-format x`, `--format x`, `--format=x` all work). */
#ifndef LKB_CLI_H
#define LKB_CLI_H

#include <lkb/plugin.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline/options.h"
#include "util/error.h"

/* Parse `lkb build` arguments (argv[0] is "build"). Strings point into argv
 * or are owned by opts. */
int lkb_cli_parse_build(int argc, char **argv, struct lkb_build_opts *opts, struct lkb_error *err);
void lkb_build_opts_free(struct lkb_build_opts *opts);

/* LinuxKit's -size syntax: "<n>M" = n MiB, "<n>G" or "<n>" = n GiB. */
int lkb_cli_parse_size(const char *s, uint64_t *bytes, struct lkb_error *err);

/* Parse a LinuxKit/Go-style boolean ("true", "false", "1", "0", ...). */
int lkb_cli_parse_bool(const char *s, bool *out, struct lkb_error *err);

/* Entry points, returning the process exit code. */
int lkb_cli_main(int argc, char **argv);
int lkb_cmd_build(int argc, char **argv);
int lkb_cmd_formats(int argc, char **argv);
int lkb_cmd_cache(int argc, char **argv);
int lkb_cmd_run(int argc, char **argv);
int lkb_cmd_help(int argc, char **argv);
int lkb_cmd_version(int argc, char **argv);

/* The format table: built-in formats, then plugins from $LKB_PLUGIN_PATH,
 * the build tree and the install directory. */
struct lkb_plugin_set;
int lkb_cli_load_formats(struct lkb_plugin_set *set, struct lkb_error *err);

/* Print err on stderr as "lkb: error: MSG" and return its exit code. */
int lkb_cli_fail(const struct lkb_error *err);

#endif
