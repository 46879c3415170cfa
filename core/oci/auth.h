/* Registry authentication pieces: WWW-Authenticate challenges and the
 * credential sources (LKB_REGISTRY_AUTH, ~/.docker/config.json auths,
 * credHelpers, credsStore). The token round trip is in registry.c. */
#ifndef LKB_OCI_AUTH_H
#define LKB_OCI_AUTH_H

#include "util/error.h"

/* One parsed challenge; absent parameters are NULL. */
struct lkb_oci_challenge {
    char *scheme; /* "Bearer" or "Basic" (as sent) */
    char *realm;
    char *service;
    char *scope;
    char *error; /* error="insufficient_scope" etc. */
};

/* Parse a WWW-Authenticate value such as
 *   Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
 * Quoted strings may contain commas and backslash escapes. */
int lkb_oci_challenge_parse(const char *value, struct lkb_oci_challenge *out,
                            struct lkb_error *err);
void lkb_oci_challenge_free(struct lkb_oci_challenge *c);

/* Credentials for REGISTRY (host[:port] as contacted). Returns 1 with
 * malloc'd *user / *secret, 0 when none are configured, -1 on error (a
 * malformed config file, a helper that fails other than "not found"). */
int lkb_oci_credentials(const char *registry, char **user, char **secret, struct lkb_error *err);

/* "Basic base64(user:secret)"; malloc'd, NULL when out of memory. */
char *lkb_oci_basic_auth(const char *user, const char *secret);

#endif
