#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "initrd/segcache.h"
#include "oci/oci.h"
#include "rootfs/unpacked.h"

static const char cache_usage[] =
    "Usage: lkb cache [-cache DIR] [-cache-ro DIR]... SUBCOMMAND [ARGS]\n"
    "\n"
    "Manage the local OCI image cache (default $LKB_CACHE, else\n"
    "$XDG_CACHE_HOME/lkb, else ~/.cache/lkb). -cache-ro and $LKB_CACHE_PATH\n"
    "layer read-only shared caches under it (export reads them). See docs/cache.md.\n"
    "\n"
    "  ls                      list cached images (reference, platform, digest)\n"
    "  rm REF...               forget images (their blobs are freed by clean)\n"
    "  clean [-all]            delete unreferenced blobs (-all: everything),\n"
    "                          every built initrd segment and unpacked layer\n"
    "  verify                  rehash every blob and unpacked layer, delete corrupt\n"
    "                          ones, repair index.json\n"
    "  import FILE.tar         add an OCI archive or a 'docker save' tar\n"
    "  export REF... FILE.tar  write images as one OCI archive\n";

static int is_help(const char *s)
{
    return !strcmp(s, "--help") || !strcmp(s, "-h") || !strcmp(s, "-help");
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "lkb: error: %s\n\n%s", msg, cache_usage);
    return 2;
}

static int cache_ls(struct lkb_cache *c, struct lkb_error *err)
{
    struct lkb_cache_entry *e;
    size_t n;
    if (lkb_cache_list(c, &e, &n, err) < 0)
        return -1;
    printf("%-60s %-14s %s\n", "REFERENCE", "PLATFORM", "DIGEST");
    for (size_t i = 0; i < n; i++)
        printf("%-60s %-14s %s\n", e[i].ref, e[i].platform ? e[i].platform : "(index)",
               e[i].digest);
    lkb_cache_entries_free(e, n);
    return 0;
}

int lkb_cmd_cache(int argc, char **argv)
{
    const char *dir = NULL, *ro = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (is_help(argv[i])) {
            fputs(cache_usage, stdout);
            return 0;
        }
        if ((!strcmp(argv[i], "-cache") || !strcmp(argv[i], "--cache")) && i + 1 < argc)
            dir = argv[++i];
        else if (!strncmp(argv[i], "-cache=", 7) || !strncmp(argv[i], "--cache=", 8))
            dir = strchr(argv[i], '=') + 1;
        else if ((!strcmp(argv[i], "-cache-ro") || !strcmp(argv[i], "--cache-ro")) &&
                 i + 1 < argc)
            ro = argv[++i];
        else if (!strncmp(argv[i], "-cache-ro=", 10) || !strncmp(argv[i], "--cache-ro=", 11))
            ro = strchr(argv[i], '=') + 1;
        else
            return usage_error("unknown option before the subcommand");
        if (ro) {
            struct lkb_error e;
            if (lkb_cache_ro_add(ro, &e) < 0)
                return lkb_cli_fail(&e);
            ro = NULL;
        }
    }
    if (i >= argc)
        return usage_error("missing subcommand");
    const char *sub = argv[i++];
    int nargs = argc - i;
    char **args = argv + i;
    for (int k = 0; k < nargs; k++)
        if (is_help(args[k])) {
            fputs(cache_usage, stdout);
            return 0;
        }

    struct lkb_error err;
    lkb_error_clear(&err);
    int rc = 0;
    if (strcmp(sub, "ls") && strcmp(sub, "rm") && strcmp(sub, "clean") && strcmp(sub, "import") &&
        strcmp(sub, "export") && strcmp(sub, "verify"))
        return usage_error("unknown cache subcommand");
    if (((!strcmp(sub, "ls") || !strcmp(sub, "verify")) && nargs) || (!strcmp(sub, "rm") && !nargs) ||
        (!strcmp(sub, "import") && nargs != 1) || (!strcmp(sub, "export") && nargs < 2) ||
        (!strcmp(sub, "clean") && (nargs > 1 || (nargs == 1 && strcmp(args[0], "-all") &&
                                                 strcmp(args[0], "--all")))))
        return usage_error("wrong arguments for the cache subcommand");

    struct lkb_cache *c = lkb_cache_open(dir, &err);
    if (!c)
        return lkb_cli_fail(&err);
    if (!strcmp(sub, "ls")) {
        rc = cache_ls(c, &err);
    } else if (!strcmp(sub, "rm")) {
        for (int k = 0; k < nargs && rc == 0; k++)
            rc = lkb_cache_remove(c, args[k], &err);
    } else if (!strcmp(sub, "clean")) {
        size_t blobs = 0;
        uint64_t bytes = 0;
        rc = lkb_cache_gc(c, nargs == 1, &blobs, &bytes, &err);
        if (rc == 0)
            printf("removed %zu blobs, %.1f MB\n", blobs, (double)bytes / 1e6);
        /* Built initrd segments are only a speed-up: clean drops them all. */
        size_t segs = 0;
        uint64_t seg_bytes = 0;
        if (rc == 0 && (rc = lkb_segcache_clean(lkb_cache_dir(c), &segs, &seg_bytes, &err)) == 0)
            printf("removed %zu initrd segments, %.1f MB\n", segs, (double)seg_bytes / 1e6);
        /* So are unpacked layers: made again from the blobs when needed. */
        if (rc == 0 && (rc = lkb_unpacked_clean(lkb_cache_dir(c), &segs, &seg_bytes, &err)) == 0)
            printf("removed %zu unpacked layers, %.1f MB\n", segs, (double)seg_bytes / 1e6);
    } else if (!strcmp(sub, "verify")) {
        size_t checked = 0, removed = 0;
        rc = lkb_cache_verify(c, &checked, &removed, &err);
        if (rc == 0)
            printf("checked %zu blobs, removed %zu corrupt\n", checked, removed);
        if (rc == 0 && (rc = lkb_unpacked_verify(lkb_cache_dir(c), &checked, &removed, &err)) == 0)
            printf("checked %zu unpacked layers, removed %zu corrupt\n", checked, removed);
    } else if (!strcmp(sub, "import")) {
        char **refs = NULL;
        size_t n = 0;
        rc = lkb_cache_import(c, args[0], &refs, &n, &err);
        for (size_t k = 0; k < n; k++) {
            if (rc == 0)
                printf("imported %s\n", refs[k]);
            free(refs[k]);
        }
        free(refs);
    } else {
        rc = lkb_cache_export_many(c, (const char *const *)args, (size_t)nargs - 1,
                                   args[nargs - 1], &err);
    }
    lkb_cache_close(c);
    return rc < 0 ? lkb_cli_fail(&err) : 0;
}
