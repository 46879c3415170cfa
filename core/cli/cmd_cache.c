#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char cache_usage[] =
    "Usage: lkb cache SUBCOMMAND [-cache DIR] [ARGS]\n"
    "\n"
    "Manage the local OCI image cache (default $LKB_CACHE or ~/.cache/lkb).\n"
    "\n"
    "  ls                      list cached images\n"
    "  rm REF...               forget images (blobs are freed by clean)\n"
    "  clean [-all]            delete unreferenced blobs (or everything)\n"
    "  import FILE.tar         add an OCI archive or 'docker save' tar\n"
    "  export REF FILE.tar     write an image as an OCI archive\n";

int lkb_cmd_cache(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "-help") == 0)) {
        fputs(cache_usage, stdout);
        return 0;
    }
    fprintf(stderr, "lkb: error: cache commands are not available yet\n");
    return 1;
}
