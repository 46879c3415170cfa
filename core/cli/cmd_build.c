#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildinfo.h"
#include "cli/cli.h"
#include "pipeline/pipeline.h"
#include "pipeline/plan.h"
#include "config/config.h"
#include "plugin/loader.h"
#include "util/log.h"

static const char build_usage[] =
    "Usage: lkb build [OPTIONS] CONFIG.yml [CONFIG.yml...]\n"
    "\n"
    "Build an image from one or more LinuxKit YAML files (merged in order; - is stdin).\n"
    "Flags may be written -flag, --flag, -flag=value or --flag value.\n"
    "\n"
    "  -format, -f FMT        output format, repeatable and comma-separated\n"
    "                         (default kernel+initrd; see 'lkb formats')\n"
    "  -format-opt [FORMAT.]KEY=VALUE\n"
    "                         format option (repeatable); a bare KEY goes to every\n"
    "                         format declaring it ('lkb formats FORMAT' lists them)\n"
    "  -name NAME             base name of outputs (default: last config's basename)\n"
    "  -dir DIR               directory for outputs (default: current directory)\n"
    "  -o, -output FILE       output file of a format that writes one file\n"
    "                         (default format tar; - is stdout for tar, docker)\n"
    "  -size SIZE             disk size for disk formats: 512M, 2G (default 1024M)\n"
    "  -arch ARCH             target architecture: amd64, arm64 (default: host)\n"
    "  -cache DIR             image cache (default: $LKB_CACHE or ~/.cache/lkb)\n"
    "  -pull                  refresh images from the registry even when cached\n"
    "  -offline               use only the cache; fail naming what is missing\n"
    "  -cache-ro DIR          read-only shared cache searched first (repeatable;\n"
    "                         also $LKB_CACHE_PATH, colon-separated)\n"
    "  -mirror [REGISTRY=]URL pull REGISTRY (default: every registry) through the\n"
    "                         mirror at URL (repeatable; also $LINUXKIT_MIRROR)\n"
    "  -cert-file PEM         extra CA certificates for registry TLS (repeatable)\n"
    "  -fetch-timeout S       retry a transfer that moves no data for S seconds (default 30)\n"
    "  -fetch-deadline S      end any one registry request after S seconds (default: by size)\n"
    "  -decompress-kernel     store an uncompressed kernel\n"
    "  -initrd-compression C  gzip (default), zstd, lz4 or none\n"
    "  -dry-run               print the merged configuration and exit\n"
    "  -no-sbom               write no SBOM (default: sbom.spdx.json in the image,\n"
    "                         merged from the images' SPDX attestations)\n"
    "  -sbom-output NAME      the SBOM's name in the image (default sbom.spdx.json)\n"
    "  -sbom-current-time     SBOM created now, random namespace (default: fixed\n"
    "                         date, namespace from the content: reproducible)\n"
    "  -docker                refused: lkb never talks to a Docker daemon\n"
    "  -input-tar FILE        copy unchanged sections from a previous tar output\n"
    "  -v, -verbose [N]       more output; -q, -quiet less\n";

int lkb_cmd_build(int argc, char **argv)
{
    struct lkb_build_opts opts;
    struct lkb_error err;
    lkb_error_clear(&err);
    if (lkb_cli_parse_build(argc, argv, &opts, &err) < 0) {
        if (err.kind == LKB_ERR_NONE) {
            fputs(build_usage, stdout);
            return 0;
        }
        fprintf(stderr, "lkb: error: %s\n\n%s", err.msg, build_usage);
        return lkb_error_exit_code(err.kind);
    }
    if (opts.verbose < 0)
        lkb_log_set_level(LKB_LOG_WARN);
    else if (opts.verbose > 1)
        lkb_log_set_level(LKB_LOG_DEBUG);

    int rc = 0;
    struct lkb_config *cfg = NULL;
    struct lkb_plugin_set plugins;
    struct lkb_build_plan plan;
    lkb_plugin_set_init(&plugins);
    memset(&plan, 0, sizeof plan);
    if (opts.docker) {
        lkb_error_set(&err, LKB_ERR_USAGE,
                      "-docker is not supported: lkb never uses a Docker daemon; import local "
                      "images with 'lkb cache import' instead");
        goto fail;
    }
    /* LinuxKit's order (build-and-outputs.md §1.3): formats and outputs
     * are checked before the configuration is read. */
    if (!opts.dry_run) {
        if (lkb_cli_load_formats(&plugins, &err) < 0 ||
            lkb_build_plan_make(&opts, &plugins, &plan, &err) < 0)
            goto fail;
    }
    if (!(cfg = lkb_config_new())) {
        lkb_error_set(&err, LKB_ERR_INTERNAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < opts.n_configs; i++)
        if (lkb_config_load_file(cfg, opts.configs[i], &err) < 0)
            goto fail;
    if (opts.dry_run) {
        if (lkb_config_dump_yaml(cfg, stdout, &err) < 0)
            goto fail;
        goto done;
    }
    if (lkb_build_run(&opts, &plan, &plugins, cfg, &err) < 0)
        goto fail;
    goto done;
fail:
    rc = lkb_cli_fail(&err);
done:
    lkb_config_free(cfg);
    lkb_build_plan_free(&plan);
    lkb_plugin_set_free(&plugins);
    lkb_build_opts_free(&opts);
    return rc;
}
