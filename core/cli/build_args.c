#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "oci/oci.h"
#include "rootfs/tree.h"

/* getopt_long_only gives Go-flag spellings (-format, --format, -format=x)
 * without writing a parser by hand. Booleans take an optional "=value" only,
 * like Go's flag package, so `-pull file.yml` leaves file.yml positional. */
enum {
    OPT_FORMAT = 1000,
    OPT_NAME,
    OPT_DIR,
    OPT_OUTPUT,
    OPT_SIZE,
    OPT_PULL,
    OPT_DOCKER,
    OPT_DECOMPRESS,
    OPT_ARCH,
    OPT_CACHE,
    OPT_INPUT_TAR,
    OPT_NO_SBOM,
    OPT_SBOM_OUTPUT,
    OPT_SBOM_TIME,
    OPT_DRY_RUN,
    OPT_INITRD_COMP,
    OPT_FORMAT_OPT,
    OPT_OFFLINE,
    OPT_VERBOSE,
    OPT_QUIET,
    OPT_HELP,
    OPT_FETCH_TIMEOUT,
    OPT_FETCH_DEADLINE,
    OPT_MIRROR,
    OPT_CERT_FILE,
    OPT_CACHE_RO,
};

static const struct option build_options[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"f", required_argument, NULL, OPT_FORMAT},
    {"name", required_argument, NULL, OPT_NAME},
    {"dir", required_argument, NULL, OPT_DIR},
    {"o", required_argument, NULL, OPT_OUTPUT},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"size", required_argument, NULL, OPT_SIZE},
    {"pull", optional_argument, NULL, OPT_PULL},
    {"docker", optional_argument, NULL, OPT_DOCKER},
    {"decompress-kernel", optional_argument, NULL, OPT_DECOMPRESS},
    {"arch", required_argument, NULL, OPT_ARCH},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"input-tar", required_argument, NULL, OPT_INPUT_TAR},
    {"no-sbom", optional_argument, NULL, OPT_NO_SBOM},
    {"sbom-output", required_argument, NULL, OPT_SBOM_OUTPUT},
    {"sbom-current-time", optional_argument, NULL, OPT_SBOM_TIME},
    {"dry-run", optional_argument, NULL, OPT_DRY_RUN},
    {"initrd-compression", required_argument, NULL, OPT_INITRD_COMP},
    {"format-opt", required_argument, NULL, OPT_FORMAT_OPT},
    {"offline", optional_argument, NULL, OPT_OFFLINE},
    {"v", optional_argument, NULL, OPT_VERBOSE},
    {"verbose", optional_argument, NULL, OPT_VERBOSE},
    {"q", no_argument, NULL, OPT_QUIET},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"fetch-timeout", required_argument, NULL, OPT_FETCH_TIMEOUT},
    {"fetch-deadline", required_argument, NULL, OPT_FETCH_DEADLINE},
    {"mirror", required_argument, NULL, OPT_MIRROR},
    {"cert-file", required_argument, NULL, OPT_CERT_FILE},
    {"cache-ro", required_argument, NULL, OPT_CACHE_RO},
    {"h", no_argument, NULL, OPT_HELP},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int lkb_cli_parse_bool(const char *s, bool *out, struct lkb_error *err)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    return lkb_error_set(err, LKB_ERR_USAGE, "invalid boolean value \"%s\"", s);
}

int lkb_cli_parse_size(const char *s, uint64_t *bytes, struct lkb_error *err)
{
    if (!*s) {
        *bytes = 0;
        return 0;
    }
    errno = 0;
    char *end;
    if (!isdigit((unsigned char)*s))
        return lkb_error_set(err, LKB_ERR_USAGE, "invalid -size \"%s\" (want e.g. 512M or 2G)", s);
    unsigned long long n = strtoull(s, &end, 10);
    uint64_t unit;
    if (strcmp(end, "M") == 0)
        unit = 1ull << 20;
    else if (strcmp(end, "G") == 0 || *end == '\0')
        unit = 1ull << 30;
    else
        return lkb_error_set(err, LKB_ERR_USAGE, "invalid -size \"%s\" (want e.g. 512M or 2G)", s);
    if (errno == ERANGE || n > UINT64_MAX / unit)
        return lkb_error_set(err, LKB_ERR_USAGE, "-size \"%s\" is too large", s);
    *bytes = n * unit;
    return 0;
}

static int push_str(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof **v);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strndup(s, len)))
        return -1;
    (*n)++;
    return 0;
}

static int add_formats(struct lkb_build_opts *o, const char *arg, struct lkb_error *err)
{
    for (const char *p = arg;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return lkb_error_set(err, LKB_ERR_USAGE, "empty format name in -format \"%s\"", arg);
        if (push_str(&o->formats, &o->n_formats, p, len) < 0)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int add_format_opt(struct lkb_build_opts *o, const char *arg, struct lkb_error *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return lkb_error_set(err, LKB_ERR_USAGE, "-format-opt wants KEY=VALUE, got \"%s\"", arg);
    struct lkb_option *n = realloc(o->format_opts, (o->n_format_opts + 1) * sizeof *n);
    if (!n)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    o->format_opts = n;
    n[o->n_format_opts].key = strndup(arg, (size_t)(eq - arg));
    n[o->n_format_opts].value = eq + 1;
    if (!n[o->n_format_opts].key)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    o->n_format_opts++;
    return 0;
}

/* A whole number of seconds, 1 to 1 day. */
static int set_seconds(long *dst, const char *name, struct lkb_error *err)
{
    char *end;
    errno = 0;
    long v = isdigit((unsigned char)*optarg) ? strtol(optarg, &end, 10) : -1;
    if (v < 1 || v > 86400 || errno || *end)
        return lkb_error_set(err, LKB_ERR_USAGE, "-%s \"%s\": want whole seconds, 1 to 86400",
                             name, optarg);
    *dst = v;
    return 0;
}

static int set_bool(bool *dst, const char *name, struct lkb_error *err)
{
    if (!optarg)
        return *dst = true, 0;
    if (lkb_cli_parse_bool(optarg, dst, err) < 0)
        return lkb_error_prefix(err, "-%s: ", name);
    return 0;
}

int lkb_cli_parse_build(int argc, char **argv, struct lkb_build_opts *o, struct lkb_error *err)
{
    memset(o, 0, sizeof *o);
    o->size_bytes = 1024ull << 20;
    const char *size_arg = NULL;
    optind = 0; /* GNU: full re-initialisation, so tests can parse repeatedly */
    opterr = 0;
    /* Mirrors, CA files and read-only caches are process-wide registry
     * settings in core/oci (global flags in LinuxKit): this command line's
     * own, LINUXKIT_MIRROR first so that flags win. */
    lkb_oci_mirrors_reset();
    lkb_oci_cert_files_reset();
    lkb_cache_ro_reset();
    if (lkb_oci_mirrors_load_env(err) < 0)
        return -1;
    for (;;) {
        int idx = -1;
        int c = getopt_long_only(argc, argv, ":", build_options, &idx);
        if (c == -1)
            break;
        int rc = 0;
        switch (c) {
        case OPT_FORMAT:
            rc = add_formats(o, optarg, err);
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_DIR:
            o->dir = optarg;
            break;
        case OPT_OUTPUT:
            o->output = optarg;
            break;
        case OPT_SIZE:
            size_arg = optarg;
            break;
        case OPT_PULL:
            rc = set_bool(&o->pull, "pull", err);
            break;
        case OPT_DOCKER:
            rc = set_bool(&o->docker, "docker", err);
            break;
        case OPT_DECOMPRESS:
            rc = set_bool(&o->decompress_kernel, "decompress-kernel", err);
            break;
        case OPT_ARCH:
            o->arch = optarg;
            break;
        case OPT_CACHE:
            o->cache_dir = optarg;
            break;
        case OPT_FETCH_TIMEOUT:
            rc = set_seconds(&o->fetch_timeout_s, "fetch-timeout", err);
            break;
        case OPT_FETCH_DEADLINE:
            rc = set_seconds(&o->fetch_deadline_s, "fetch-deadline", err);
            break;
        case OPT_MIRROR:
            rc = lkb_oci_mirror_add(optarg, err);
            break;
        case OPT_CERT_FILE:
            rc = lkb_oci_cert_file_add(optarg, err);
            break;
        case OPT_CACHE_RO:
            rc = lkb_cache_ro_add(optarg, err);
            break;
        case OPT_INPUT_TAR:
            o->input_tar = optarg;
            break;
        case OPT_NO_SBOM:
            rc = set_bool(&o->no_sbom, "no-sbom", err);
            break;
        case OPT_SBOM_OUTPUT: {
            /* An entry of the root tree: no "..", not empty. */
            char *clean = NULL;
            o->sbom_output = optarg;
            if (lkb_tree_clean_path(optarg, &clean, err) < 0) {
                err->kind = LKB_ERR_USAGE;
                rc = lkb_error_prefix(err, "-sbom-output: ");
            }
            free(clean);
            break;
        }
        case OPT_SBOM_TIME:
            rc = set_bool(&o->sbom_current_time, "sbom-current-time", err);
            break;
        case OPT_DRY_RUN:
            rc = set_bool(&o->dry_run, "dry-run", err);
            break;
        case OPT_INITRD_COMP:
            o->initrd_compression = optarg;
            break;
        case OPT_FORMAT_OPT:
            rc = add_format_opt(o, optarg, err);
            break;
        case OPT_OFFLINE:
            rc = set_bool(&o->offline, "offline", err);
            break;
        case OPT_VERBOSE:
            o->verbose = optarg ? atoi(optarg) : 2;
            break;
        case OPT_QUIET:
            o->verbose = -1;
            break;
        case OPT_HELP:
            return lkb_error_set(err, LKB_ERR_NONE, "help");
        case ':':
            rc = lkb_error_set(err, LKB_ERR_USAGE, "option %s needs a value", argv[optind - 1]);
            break;
        default:
            rc = lkb_error_set(err, LKB_ERR_USAGE, "unknown or ambiguous option %s",
                               argv[optind - 1]);
            break;
        }
        if (rc < 0) {
            lkb_build_opts_free(o);
            return -1;
        }
    }
    /* Configs may be interspersed with flags (cobra semantics): getopt
     * permuted them to the end. */
    for (int i = optind; i < argc; i++)
        if (push_str(&o->configs, &o->n_configs, argv[i], strlen(argv[i])) < 0) {
            lkb_build_opts_free(o);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
    if (o->n_configs == 0) {
        lkb_build_opts_free(o);
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "build needs at least one configuration file (or - for stdin)");
    }
    if (size_arg) {
        if (lkb_cli_parse_size(size_arg, &o->size_bytes, err) < 0) {
            lkb_build_opts_free(o);
            return -1;
        }
        o->size_set = true;
    }
    return 0;
}

void lkb_build_opts_free(struct lkb_build_opts *o)
{
    for (size_t i = 0; i < o->n_formats; i++)
        free(o->formats[i]);
    free(o->formats);
    for (size_t i = 0; i < o->n_configs; i++)
        free(o->configs[i]);
    free(o->configs);
    for (size_t i = 0; i < o->n_format_opts; i++)
        free((char *)o->format_opts[i].key);
    free(o->format_opts);
    memset(o, 0, sizeof *o);
}
