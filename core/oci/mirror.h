/* Registry mirrors and extra CA certificates: process-wide registry
 * settings (mirror.c, cafile.c). Internal to core/oci. */
#ifndef LKB_OCI_MIRROR_H
#define LKB_OCI_MIRROR_H

#include <stdbool.h>
#include <stddef.h>

#include "oci/internal.h"

struct oci_mirror {
    char *key;          /* "docker.io", "ghcr.io", "127.0.0.1:5000" or "*" */
    char *url;          /* as given, for messages */
    const char *scheme; /* "http" or "https" */
    char *host;         /* host[:port] */
    char *prefix;       /* repository prefix on the mirror, "" for none */
    bool dead_warned;   /* "does not answer" was said once */
};

/* The mirror for a registry host (Docker Hub's names are one key), else
 * the "*" mirror, else NULL. LINUXKIT_MIRROR is read on first use. */
struct oci_mirror *oci_mirror_for(const char *registry);

/* The extra CA certificates (-cert-file, LKB_CA_FILE and the pull options'
 * ca_file) with the system bundle, as one PEM blob for CURLOPT_CAINFO_BLOB;
 * NULL (and *len 0) when there are none. extra may be NULL. Malloc'd. */
int oci_ca_bundle(const char *extra, char **pem, size_t *len, struct lkb_error *err);

#endif
