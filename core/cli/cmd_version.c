#include <archive.h>
#include <curl/curl.h>
#include <jansson.h>
#include <lkb/plugin.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "buildinfo.h"
#include "cli/cli.h"

int lkb_cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "-help") == 0)) {
        puts("Usage: lkb version\n\nPrint the lkb version, plugin ABI and library versions.");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "lkb: error: version takes no arguments\n");
        return 2;
    }
    printf("lkb %s\n", LKB_VERSION);
    printf("plugin ABI: %u\n", LKB_PLUGIN_ABI_VERSION);
    printf("plugin dir: %s\n", LKB_PLUGIN_INSTALL_DIR);
    printf("libarchive: %s\n", archive_version_string());
    printf("libcurl: %s\n", curl_version_info(CURLVERSION_NOW)->version);
    printf("libyaml: %s\n", yaml_get_version_string());
    printf("jansson: %s\n", JANSSON_VERSION);
    printf("openssl: %s\n", OpenSSL_version(OPENSSL_VERSION));
    return 0;
}
