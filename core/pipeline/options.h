/* The options of one `lkb build`, as parsed from the command line. */
#ifndef LKB_PIPELINE_OPTIONS_H
#define LKB_PIPELINE_OPTIONS_H

#include <lkb/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lkb_build_opts {
    char **formats; /* each -format value, split on ',' */
    size_t n_formats;
    const char *name;
    const char *dir;
    const char *output; /* -o / --o / -output */
    const char *arch;
    const char *cache_dir;
    const char *input_tar;
    const char *sbom_output;
    const char *initrd_compression;
    uint64_t size_bytes; /* -size; LinuxKit default 1024M */
    bool size_set;
    bool pull, docker, decompress_kernel, no_sbom, sbom_current_time, dry_run, offline;
    struct lkb_option *format_opts; /* -format-opt KEY=VALUE */
    size_t n_format_opts;
    char **configs;
    size_t n_configs;
    int verbose; /* -1 quiet, 0 default, 1.. more */
    long fetch_timeout_s;  /* -fetch-timeout: no-progress timeout; 0 = default (docs/limits.md) */
    long fetch_deadline_s; /* -fetch-deadline: per-request deadline; 0 = default */
};

#endif
