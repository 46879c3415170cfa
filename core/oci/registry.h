/* Registry HTTP client shared by manifest fetching (registry.c) and blob
 * downloads (blobfetch.c). Internal to core/oci. */
#ifndef LKB_OCI_REGISTRY_H
#define LKB_OCI_REGISTRY_H

#include <curl/curl.h>
#include <stdbool.h>

#include "oci/internal.h"
#include "oci/mirror.h"

struct oci_token {
    char *repo;
    char *header; /* "Authorization: Bearer ..." */
};

/* What we know about one registry host during a client's life. */
struct oci_registry {
    char *host;
    const char *mirror_url; /* a mirror: its URL as given (scheme fixed by it), else NULL */
    const char *force_scheme; /* a mirror's "http" or "https": no probing of both */
    bool dead;              /* a mirror that failed to answer: not asked again */
    char *dead_why;
    char *base; /* "https://host" or "http://host" once probed */
    bool loopback;
    bool probed;
    bool creds_loaded;
    char *user, *secret;
    char *scheme; /* challenge from GET /v2/: "Bearer", "Basic" or NULL (open) */
    struct oci_token *tokens;
    size_t n_tokens;
    struct oci_registry *next;
};

struct oci_client {
    int parallel, max_attempts, retry_base_ms;
    long timeout_s;
    long deadline_s; /* fixed per-request deadline; 0: by size (oci_client_deadline) */
    bool verbose;  /* say which endpoint served each manifest and blob */
    char *ca_pem;  /* extra CA certificates + the system bundle, or NULL */
    size_t ca_len;
    CURL *easy;  /* synchronous requests; reused so connections are kept */
    CURLM *multi; /* blob downloads */
    struct oci_registry *regs;
    void (*on_layer)(void *ctx, const char *digest, int fd); /* lkb_pull_opts.on_layer */
    void *on_layer_ctx;
};

struct oci_response {
    long status;
    char *body;
    size_t len;
    char *content_type;
    char *docker_digest;
    char *www_auth;
};
void oci_response_free(struct oci_response *r);

struct oci_client *oci_client_new(const struct lkb_pull_opts *opts, struct lkb_error *err);
void oci_client_free(struct oci_client *c);

/* Options every transfer gets: TLS verification with the extra CA file,
 * timeouts, redirects limited to http(s). */
/* Seconds a request for a body of size bytes (-1: unknown) may take. */
long oci_client_deadline(const struct oci_client *c, int64_t size);
void oci_client_setup_easy(struct oci_client *c, CURL *e);

/* Header callback collecting the response headers we care about into r
 * (CURLOPT_HEADERDATA = r). */
size_t oci_header_cb(char *buf, size_t size, size_t n, void *r);

/* The registry record for HOST, probed (scheme decided, challenge known). */
struct oci_registry *oci_client_registry(struct oci_client *c, const char *host, bool loopback,
                                         struct lkb_error *err);

/* The record for mirror M, probed; NULL with err when it does not answer
 * (then it is marked dead and not asked again in this run). */
struct oci_registry *oci_client_mirror(struct oci_client *c, struct oci_mirror *m,
                                       struct lkb_error *err);

/* Where one image is fetched from: its mirror (if any), then the origin. */
struct oci_endpoint {
    struct oci_mirror *mirror; /* NULL: the origin */
    struct oci_registry *reg;  /* NULL until first used */
    char *repo;                /* repository there (a mirror may add a prefix) */
};
struct oci_source {
    struct oci_endpoint ep[2]; /* the mirror first when there is one; the last is the origin */
    int n, cur;                /* cur: the manifests' endpoint; blob transfers keep their own */
    const char *origin_host;
    bool origin_loopback;
};
/* Endpoints for REF: the configured mirror first, then the origin. */
int oci_source_init(struct oci_source *s, const struct lkb_oci_ref *ref, struct lkb_error *err);
void oci_source_free(struct oci_source *s);
/* Endpoint *cur with its registry record, probed on first use. A mirror
 * that does not answer is left for the origin (oci_source_fallback). */
struct oci_endpoint *oci_source_endpoint(struct oci_client *c, struct oci_source *s, int *cur,
                                         struct lkb_error *err);
/* Endpoint *cur is a mirror and failed with WHY for WHAT (NULL: it does
 * not answer at all): warn and move *cur to the origin. Returns false when
 * there is nothing to fall back to. */
bool oci_source_fallback(struct oci_source *s, int *cur, const char *what, const char *why);

/* The Authorization header line to send for REPO, or NULL for none. Owned
 * by the registry record. */
int oci_auth_header(struct oci_client *c, struct oci_registry *r, const char *repo,
                    const char **header, struct lkb_error *err);
/* A request for REPO got 401 with WWW_AUTH: drop the cached token and get a
 * new one. Fails if the credentials are refused. */
int oci_auth_refresh(struct oci_client *c, struct oci_registry *r, const char *repo,
                     const char *www_auth, struct lkb_error *err);

/* GET base+PATH with retries and authentication. Any final HTTP status is
 * returned in resp (callers judge 404 etc.); -1 only for transport errors,
 * exhausted retries and refused authentication. */
int oci_request(struct oci_client *c, struct oci_registry *r, const char *repo, const char *path,
                const char *accept, struct oci_response *resp, struct lkb_error *err);

/* Retry policy shared by both paths. */
bool oci_retryable_curl(CURLcode rc);
bool oci_retryable_status(long status);
long oci_backoff_ms(const struct oci_client *c, int attempt);
/* Sleep the back-off after failed attempt number `attempt` (from 1). */
void oci_backoff_sleep(const struct oci_client *c, int attempt);

#endif
