/* Talking to a registry: choosing http or https, the /v2/ challenge,
 * Basic and Bearer (token) authentication, and synchronous GETs with
 * retries for manifests. Blob downloads reuse this state in blobfetch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buildinfo.h"
#include "oci/auth.h"
#include "oci/registry.h"
#include "util/fs.h"
#include "util/log.h"

#define MAX_SMALL_BODY (8u << 20) /* manifests, tokens: refuse anything bigger */

void oci_response_free(struct oci_response *r)
{
    free(r->body);
    free(r->content_type);
    free(r->docker_digest);
    free(r->www_auth);
    memset(r, 0, sizeof *r);
}

static void registry_free(struct oci_registry *r)
{
    free(r->host);
    free(r->base);
    free(r->user);
    free(r->secret);
    free(r->scheme);
    free(r->dead_why);
    for (size_t i = 0; i < r->n_tokens; i++) {
        free(r->tokens[i].repo);
        free(r->tokens[i].header);
    }
    free(r->tokens);
    free(r);
}

/* A positive number of seconds from the environment, else def. */
static long env_seconds(const char *name, long def)
{
    const char *v = getenv(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? n : def;
}

struct oci_client *oci_client_new(const struct lkb_pull_opts *opts, struct lkb_error *err)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            lkb_error_set(err, LKB_ERR_INTERNAL, "libcurl initialisation failed");
            return NULL;
        }
        curl_ready = true;
    }
    struct oci_client *c = calloc(1, sizeof *c);
    if (!c) {
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    c->parallel = opts && opts->parallel > 0 ? opts->parallel : 4;
    c->max_attempts = opts && opts->max_attempts > 0 ? opts->max_attempts : 4;
    c->retry_base_ms = opts && opts->retry_base_ms > 0 ? opts->retry_base_ms : 500;
    c->timeout_s =
        opts && opts->timeout_s > 0 ? opts->timeout_s : env_seconds("LKB_FETCH_TIMEOUT", 30);
    c->deadline_s =
        opts && opts->deadline_s > 0 ? opts->deadline_s : env_seconds("LKB_FETCH_DEADLINE", 0);
    c->verbose = opts && opts->verbose;
    c->on_layer = opts ? opts->on_layer : NULL;
    c->on_layer_ctx = opts ? opts->on_layer_ctx : NULL;
    const char *ca = opts && opts->ca_file ? opts->ca_file : getenv("LKB_CA_FILE");
    if (oci_ca_bundle(ca && *ca ? ca : NULL, &c->ca_pem, &c->ca_len, err) < 0) {
        free(c);
        return NULL;
    }
    c->easy = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->easy || !c->multi) {
        oci_client_free(c);
        lkb_error_set(err, LKB_ERR_INTERNAL, "libcurl handle allocation failed");
        return NULL;
    }
    return c;
}

void oci_client_free(struct oci_client *c)
{
    if (!c)
        return;
    while (c->regs) {
        struct oci_registry *n = c->regs->next;
        registry_free(c->regs);
        c->regs = n;
    }
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c->ca_pem);
    free(c);
}

long oci_client_deadline(const struct oci_client *c, int64_t size)
{
    if (c->deadline_s > 0)
        return c->deadline_s;
    return 300 + (size > 0 ? (long)(size / (100 << 10)) : 0);
}

void oci_client_setup_easy(struct oci_client *c, CURL *e)
{
    /* CURLOPT_NOSIGNAL stays off: libcurl then ignores SIGPIPE while it
     * works, so a registry closing a TLS connection cannot kill lkb. */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "lkb/" LKB_VERSION);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
    /* A stalled transfer (no byte for timeout_s) is a retryable timeout. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->timeout_s);
    /* A registry dripping a few bytes a second defeats the stall timer:
     * every request also has an overall deadline (retryable as well). */
    curl_easy_setopt(e, CURLOPT_TIMEOUT, oci_client_deadline(c, -1));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* Extra CA certificates with the system bundle (cafile.c): added to
     * the trusted roots, as LinuxKit's --cert-file. */
    if (c->ca_pem) {
        struct curl_blob blob = {c->ca_pem, c->ca_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
}

static char *header_value(const char *buf, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(buf, name, n) != 0 || buf[n] != ':')
        return NULL;
    const char *v = buf + n + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(v, (size_t)(end - v));
}

size_t oci_header_cb(char *buf, size_t size, size_t n, void *data)
{
    struct oci_response *r = data;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or 100): forget older headers. */
        free(r->content_type);
        free(r->docker_digest);
        free(r->www_auth);
        r->content_type = r->docker_digest = r->www_auth = NULL;
        return len;
    }
    char *v;
    if ((v = header_value(buf, len, "Content-Type"))) {
        free(r->content_type);
        /* "application/json; charset=utf-8" -> "application/json" */
        v[strcspn(v, ";")] = '\0';
        r->content_type = v;
    } else if ((v = header_value(buf, len, "Docker-Content-Digest"))) {
        free(r->docker_digest);
        r->docker_digest = v;
    } else if ((v = header_value(buf, len, "WWW-Authenticate"))) {
        /* Prefer a Bearer challenge when several are offered. */
        if (!r->www_auth || strncasecmp(v, "Bearer", 6) == 0) {
            free(r->www_auth);
            r->www_auth = v;
        } else {
            free(v);
        }
    }
    return len;
}

static size_t body_cb(char *buf, size_t size, size_t n, void *data)
{
    struct oci_response *r = data;
    size_t len = size * n;
    if (r->len + len > MAX_SMALL_BODY)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    char *b = realloc(r->body, r->len + len + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, buf, len);
    r->len += len;
    b[r->len] = '\0';
    r->body = b;
    return len;
}

bool oci_retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_WRITE_ERROR: /* our callbacks refuse more bytes than expected */
    case CURLE_BAD_CONTENT_ENCODING:
        return true;
    default:
        return false;
    }
}

bool oci_retryable_status(long status)
{
    return status >= 500 || status == 408 || status == 429;
}

long oci_backoff_ms(const struct oci_client *c, int attempt)
{
    long ms = c->retry_base_ms;
    for (int i = 1; i < attempt && ms < 8000; i++)
        ms *= 2;
    return ms > 8000 ? 8000 : ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

void oci_backoff_sleep(const struct oci_client *c, int attempt)
{
    sleep_ms(oci_backoff_ms(c, attempt));
}

/* One synchronous GET on the reused handle. */
static CURLcode perform(struct oci_client *c, const char *url, struct curl_slist *hdrs,
                        const char *basic_userpwd, struct oci_response *resp, char *errbuf)
{
    oci_response_free(resp);
    curl_easy_reset(c->easy);
    oci_client_setup_easy(c, c->easy);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, oci_header_cb);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, errbuf);
    if (basic_userpwd) {
        curl_easy_setopt(c->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c->easy, CURLOPT_USERPWD, basic_userpwd);
    }
    errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(c->easy);
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc != CURLE_OK && !errbuf[0])
        snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
    return rc;
}

static int load_creds(struct oci_registry *r, struct lkb_error *err)
{
    if (r->creds_loaded)
        return 0;
    int rc = lkb_oci_credentials(r->host, &r->user, &r->secret, err);
    if (rc < 0)
        return -1;
    r->creds_loaded = true;
    return 0;
}

/* GET /v2/: decide http vs https for loopback registries and learn the
 * auth scheme. Loopback hosts are tried over plain http first; a TLS-only
 * registry answers that with 400 "Client sent an HTTP request to an HTTPS
 * server", and we switch to https (verified against the CA file). */
static int probe(struct oci_client *c, struct oci_registry *r, struct lkb_error *err)
{
    struct oci_response resp = {0};
    char errbuf[CURL_ERROR_SIZE];
    const char *schemes[2] = {"https", NULL};
    if (r->force_scheme) {
        schemes[0] = r->force_scheme;
    } else if (r->loopback) {
        schemes[0] = "http";
        schemes[1] = "https";
    }
    int rc = -1;
    for (int s = 0; s < 2 && schemes[s]; s++) {
        free(r->base);
        r->base = lkb_strf("%s://%s", schemes[s], r->host);
        char *url = lkb_strf("%s/v2/", r->base);
        if (!r->base || !url) {
            free(url);
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        CURLcode cr = CURLE_OK;
        for (int attempt = 1; attempt <= c->max_attempts; attempt++) {
            cr = perform(c, url, NULL, NULL, &resp, errbuf);
            /* A mirror that refuses connections is left at once for the
             * origin (containerd does the same). */
            bool again = (cr != CURLE_OK && oci_retryable_curl(cr) && cr != CURLE_GOT_NOTHING &&
                          cr != CURLE_WEIRD_SERVER_REPLY &&
                          !(r->mirror_url && cr == CURLE_COULDNT_CONNECT)) ||
                         (cr == CURLE_OK && oci_retryable_status(resp.status));
            if (!again || attempt == c->max_attempts)
                break;
            lkb_debug("%s: %s, retrying", url, cr ? errbuf : "server error");
            oci_backoff_sleep(c, attempt);
        }
        free(url);
        bool tls_only = (cr == CURLE_OK && resp.status == 400 && resp.body &&
                         strstr(resp.body, "HTTPS")) ||
                        cr == CURLE_GOT_NOTHING || cr == CURLE_WEIRD_SERVER_REPLY ||
                        cr == CURLE_RECV_ERROR;
        if (tls_only && s == 0 && schemes[1])
            continue;
        if (cr != CURLE_OK) {
            rc = lkb_error_set(err, LKB_ERR_FETCH, "registry %s: %s", r->base, errbuf);
            break;
        }
        if (resp.status == 401 && resp.www_auth) {
            struct lkb_oci_challenge ch;
            if (lkb_oci_challenge_parse(resp.www_auth, &ch, err) < 0)
                break;
            r->scheme = ch.scheme;
            ch.scheme = NULL;
            lkb_oci_challenge_free(&ch);
        } else if (resp.status != 200 && resp.status != 401 && resp.status != 404) {
            /* 404: some proxies serve only repositories; keep going. */
            rc = lkb_error_set(err, LKB_ERR_FETCH, "registry %s: GET /v2/ answered HTTP %ld",
                               r->base, resp.status);
            break;
        }
        r->probed = true;
        rc = 0;
        break;
    }
    oci_response_free(&resp);
    return rc;
}

/* The record for HOST as an origin (mirror NULL) or as mirror M: the same
 * host may be both, with different schemes. */
static struct oci_registry *registry_get(struct oci_client *c, const char *host, bool loopback,
                                         const struct oci_mirror *m, struct lkb_error *err)
{
    struct oci_registry *r;
    for (r = c->regs; r; r = r->next)
        if (strcmp(r->host, host) == 0 && (m ? r->mirror_url == m->url : !r->mirror_url))
            break;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->host = strdup(host))) {
            free(r);
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            return NULL;
        }
        r->loopback = loopback;
        if (m) {
            r->mirror_url = m->url;
            r->force_scheme = m->scheme;
        }
        r->next = c->regs;
        c->regs = r;
    }
    if (r->dead) {
        lkb_error_set(err, LKB_ERR_FETCH, "%s", r->dead_why ? r->dead_why : "no answer");
        return NULL;
    }
    if (!r->probed && probe(c, r, err) < 0) {
        if (m) {
            r->dead = true;
            r->dead_why = strdup(err ? err->msg : "no answer");
        }
        return NULL;
    }
    return r;
}

struct oci_registry *oci_client_registry(struct oci_client *c, const char *host, bool loopback,
                                         struct lkb_error *err)
{
    return registry_get(c, host, loopback, NULL, err);
}

struct oci_registry *oci_client_mirror(struct oci_client *c, struct oci_mirror *m,
                                       struct lkb_error *err)
{
    return registry_get(c, m->host, false, m, err);
}

int oci_source_init(struct oci_source *s, const struct lkb_oci_ref *ref, struct lkb_error *err)
{
    memset(s, 0, sizeof *s);
    s->origin_host = ref->registry;
    s->origin_loopback = ref->loopback;
    struct oci_mirror *m = oci_mirror_for(ref->registry);
    if (m) {
        s->ep[s->n].mirror = m;
        s->ep[s->n++].repo = *m->prefix ? lkb_strf("%s/%s", m->prefix, ref->repository)
                                        : strdup(ref->repository);
    }
    s->ep[s->n++].repo = strdup(ref->repository);
    for (int i = 0; i < s->n; i++)
        if (!s->ep[i].repo) {
            oci_source_free(s);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
    return 0;
}

void oci_source_free(struct oci_source *s)
{
    for (int i = 0; i < 2; i++)
        free(s->ep[i].repo);
    memset(s, 0, sizeof *s);
}

bool oci_source_fallback(struct oci_source *s, int *cur, const char *what, const char *why)
{
    struct oci_endpoint *e = &s->ep[*cur];
    if (!e->mirror || *cur + 1 >= s->n)
        return false;
    /* A mirror that does not answer is reported once for the whole run;
     * a failure for one object (missing, wrong bytes) each time. */
    if (what || !e->mirror->dead_warned)
        lkb_warn("mirror %s: %s%s%s; using %s directly", e->mirror->url, what ? what : "",
                 what ? ": " : "", why, s->origin_host);
    if (!what)
        e->mirror->dead_warned = true;
    (*cur)++;
    return true;
}

struct oci_endpoint *oci_source_endpoint(struct oci_client *c, struct oci_source *s, int *cur,
                                         struct lkb_error *err)
{
    for (;;) {
        struct oci_endpoint *e = &s->ep[*cur];
        if (e->reg && !e->reg->dead)
            return e;
        struct lkb_error why;
        lkb_error_clear(&why);
        e->reg = e->mirror ? oci_client_mirror(c, e->mirror, &why)
                           : oci_client_registry(c, s->origin_host, s->origin_loopback, &why);
        if (e->reg)
            return e;
        if (!oci_source_fallback(s, cur, NULL, why.msg)) {
            *err = why;
            return NULL;
        }
    }
}

static struct oci_token *find_token(struct oci_registry *r, const char *repo)
{
    for (size_t i = 0; i < r->n_tokens; i++)
        if (strcmp(r->tokens[i].repo, repo) == 0)
            return &r->tokens[i];
    return NULL;
}

/* Docker token protocol: GET realm?service=..&scope=.. (Basic auth when we
 * have credentials), answer {"token": ...} or {"access_token": ...}. */
static int fetch_token(struct oci_client *c, struct oci_registry *r, const char *repo,
                       const struct lkb_oci_challenge *ch, struct lkb_error *err)
{
    if (!ch->realm)
        return lkb_error_set(err, LKB_ERR_FETCH, "registry %s: Bearer challenge without realm",
                             r->host);
    if (load_creds(r, err) < 0)
        return -1;
    char *scope_default = lkb_strf("repository:%s:pull", repo);
    const char *scope = ch->scope ? ch->scope : scope_default;
    char *esc_scope = curl_easy_escape(c->easy, scope ? scope : "", 0);
    char *esc_service = ch->service ? curl_easy_escape(c->easy, ch->service, 0) : NULL;
    char *url = lkb_strf("%s%sscope=%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                                  esc_scope ? esc_scope : "", esc_service ? "&service=" : "",
                                  esc_service ? esc_service : "");
    curl_free(esc_scope);
    curl_free(esc_service);
    free(scope_default);
    char *userpwd = r->user ? lkb_strf("%s:%s", r->user, r->secret) : NULL;
    struct oci_response resp = {0};
    char errbuf[CURL_ERROR_SIZE];
    int rc = -1;
    CURLcode cr = CURLE_OK;
    if (!url)
        goto out;
    for (int attempt = 1; attempt <= c->max_attempts; attempt++) {
        cr = perform(c, url, NULL, userpwd, &resp, errbuf);
        bool again = (cr != CURLE_OK && oci_retryable_curl(cr)) ||
                     (cr == CURLE_OK && oci_retryable_status(resp.status));
        if (!again || attempt == c->max_attempts)
            break;
        oci_backoff_sleep(c, attempt);
    }
    if (cr != CURLE_OK) {
        lkb_error_set(err, LKB_ERR_FETCH, "token server %s: %s", ch->realm, errbuf);
        goto out;
    }
    if (resp.status == 401 || resp.status == 403) {
        lkb_error_set(err, LKB_ERR_FETCH, "authentication to %s failed (%s): token server %s "
                      "answered HTTP %ld",
                      r->host, r->user ? "credentials refused" : "no credentials configured",
                      ch->realm, resp.status);
        goto out;
    }
    json_t *j = resp.status == 200 ? json_loadb(resp.body ? resp.body : "", resp.len, 0, NULL)
                                   : NULL;
    const char *tok = oci_json_str(j, "token");
    if (!tok || !*tok)
        tok = oci_json_str(j, "access_token");
    if (!tok || !*tok) {
        json_decref(j);
        lkb_error_set(err, LKB_ERR_FETCH, "token server %s answered HTTP %ld without a token",
                      ch->realm, resp.status);
        goto out;
    }
    struct oci_token *t = find_token(r, repo);
    if (!t) {
        struct oci_token *n = realloc(r->tokens, (r->n_tokens + 1) * sizeof *n);
        if (!n) {
            json_decref(j);
            lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            goto out;
        }
        r->tokens = n;
        t = &r->tokens[r->n_tokens++];
        t->repo = strdup(repo);
        t->header = NULL;
    }
    free(t->header);
    t->header = lkb_strf("Authorization: Bearer %s", tok);
    json_decref(j);
    rc = t->repo && t->header ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
out:
    if (userpwd) {
        memset(userpwd, 0, strlen(userpwd));
        free(userpwd);
    }
    free(url);
    oci_response_free(&resp);
    return rc;
}

int oci_auth_header(struct oci_client *c, struct oci_registry *r, const char *repo,
                    const char **header, struct lkb_error *err)
{
    (void)c;
    *header = NULL;
    if (!r->scheme)
        return 0;
    if (strcasecmp(r->scheme, "Basic") == 0) {
        if (load_creds(r, err) < 0)
            return -1;
        if (!r->user)
            return 0;
        struct oci_token *t = find_token(r, "");
        if (!t) {
            char *b = lkb_oci_basic_auth(r->user, r->secret);
            struct oci_token *n = realloc(r->tokens, (r->n_tokens + 1) * sizeof *n);
            if (!b || !n) {
                free(b);
                if (n)
                    r->tokens = n;
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            }
            r->tokens = n;
            t = &r->tokens[r->n_tokens++];
            t->repo = strdup("");
            t->header = lkb_strf("Authorization: %s", b);
            free(b);
        }
        *header = t->header;
        return 0;
    }
    /* Bearer: a token is fetched lazily, on the first 401 for the repo. */
    struct oci_token *t = find_token(r, repo);
    *header = t ? t->header : NULL;
    return 0;
}

int oci_auth_refresh(struct oci_client *c, struct oci_registry *r, const char *repo,
                     const char *www_auth, struct lkb_error *err)
{
    if (!www_auth)
        return lkb_error_set(err, LKB_ERR_FETCH,
                             "registry %s answered 401 without a WWW-Authenticate challenge",
                             r->host);
    struct lkb_oci_challenge ch;
    if (lkb_oci_challenge_parse(www_auth, &ch, err) < 0)
        return -1;
    int rc;
    if (strcasecmp(ch.scheme, "Bearer") == 0) {
        free(r->scheme);
        r->scheme = strdup("Bearer");
        rc = fetch_token(c, r, repo, &ch, err);
    } else if (strcasecmp(ch.scheme, "Basic") == 0) {
        free(r->scheme);
        r->scheme = strdup("Basic");
        if ((rc = load_creds(r, err)) == 0 && !r->user)
            rc = lkb_error_set(err, LKB_ERR_FETCH,
                               "registry %s requires authentication: no credentials for it in "
                               "LKB_REGISTRY_AUTH or the Docker config",
                               r->host);
    } else {
        rc = lkb_error_set(err, LKB_ERR_FETCH, "registry %s: unsupported authentication scheme %s",
                           r->host, ch.scheme);
    }
    lkb_oci_challenge_free(&ch);
    return rc;
}

int oci_request(struct oci_client *c, struct oci_registry *r, const char *repo, const char *path,
                const char *accept, struct oci_response *resp, struct lkb_error *err)
{
    char *url = lkb_strf("%s%s", r->base, path);
    char *accept_hdr = accept ? lkb_strf("Accept: %s", accept) : NULL;
    if (!url || (accept && !accept_hdr)) {
        free(url);
        free(accept_hdr);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    char errbuf[CURL_ERROR_SIZE];
    int rc = -1, auth_tries = 0;
    for (int attempt = 1;;) {
        const char *auth;
        if (oci_auth_header(c, r, repo, &auth, err) < 0)
            break;
        struct curl_slist *h = NULL;
        if (accept_hdr)
            h = curl_slist_append(h, accept_hdr);
        if (auth)
            h = curl_slist_append(h, auth);
        CURLcode cr = perform(c, url, h, NULL, resp, errbuf);
        curl_slist_free_all(h);
        if (cr == CURLE_OK && resp->status == 401 && auth_tries++ < 2) {
            if (oci_auth_refresh(c, r, repo, resp->www_auth, err) < 0)
                break;
            continue; /* authentication round trips are not failed attempts */
        }
        if (cr == CURLE_OK && resp->status == 401) {
            lkb_error_set(err, LKB_ERR_FETCH, "%s: authentication refused (HTTP 401)", url);
            break;
        }
        bool again = (cr != CURLE_OK && oci_retryable_curl(cr)) ||
                     (cr == CURLE_OK && oci_retryable_status(resp->status));
        if (!again) {
            if (cr != CURLE_OK)
                lkb_error_set(err, LKB_ERR_FETCH, "%s: %s", url, errbuf);
            else
                rc = 0;
            break;
        }
        if (attempt >= c->max_attempts) {
            if (cr != CURLE_OK)
                lkb_error_set(err, LKB_ERR_FETCH, "%s: %s (after %d attempts)", url, errbuf,
                              attempt);
            else
                lkb_error_set(err, LKB_ERR_FETCH, "%s: HTTP %ld (after %d attempts)", url,
                              resp->status, attempt);
            break;
        }
        long ms = oci_backoff_ms(c, attempt);
        lkb_debug("%s: %s; retrying in %ld ms", url,
                  cr != CURLE_OK ? errbuf : "server error", ms);
        sleep_ms(ms);
        attempt++;
    }
    free(url);
    free(accept_hdr);
    return rc;
}
