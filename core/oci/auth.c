/* Credentials and challenge parsing. The WWW-Authenticate grammar (RFC
 * 7235 auth-params) is parsed by hand: libcurl does not expose its parser
 * and Bearer token auth (Docker's registry token spec) is not in libcurl. */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "oci/auth.h"
#include "oci/internal.h"
#include "util/log.h"

extern char **environ;

void lkb_oci_challenge_free(struct lkb_oci_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    free(c->error);
    memset(c, 0, sizeof *c);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool token_char(char c)
{
    return c && !strchr(" \t,=\"", c);
}

int lkb_oci_challenge_parse(const char *value, struct lkb_oci_challenge *out,
                            struct lkb_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p = skip_ws(value ? value : "");
    const char *s = p;
    while (token_char(*p))
        p++;
    if (p == s)
        return lkb_error_set(err, LKB_ERR_FETCH, "malformed WWW-Authenticate header '%s'",
                             value ? value : "");
    out->scheme = strndup(s, (size_t)(p - s));
    for (;;) {
        p = skip_ws(p);
        while (*p == ',')
            p = skip_ws(p + 1);
        if (!*p)
            break;
        const char *k = p;
        while (token_char(*p))
            p++;
        size_t klen = (size_t)(p - k);
        p = skip_ws(p);
        if (klen == 0 || *p != '=') {
            lkb_oci_challenge_free(out);
            return lkb_error_set(err, LKB_ERR_FETCH, "malformed WWW-Authenticate header '%s'",
                                 value);
        }
        p = skip_ws(p + 1);
        char *v;
        if (*p == '"') {
            /* quoted-string: backslash escapes the next character */
            p++;
            v = malloc(strlen(p) + 1);
            if (!v)
                break;
            size_t n = 0;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                v[n++] = *p++;
            }
            v[n] = '\0';
            if (*p != '"') {
                free(v);
                lkb_oci_challenge_free(out);
                return lkb_error_set(err, LKB_ERR_FETCH,
                                     "malformed WWW-Authenticate header '%s': unterminated "
                                     "quote",
                                     value);
            }
            p++;
        } else {
            const char *vs = p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            v = strndup(vs, (size_t)(p - vs));
        }
        char **slot = NULL;
        if (klen == 5 && strncasecmp(k, "realm", 5) == 0)
            slot = &out->realm;
        else if (klen == 7 && strncasecmp(k, "service", 7) == 0)
            slot = &out->service;
        else if (klen == 5 && strncasecmp(k, "scope", 5) == 0)
            slot = &out->scope;
        else if (klen == 5 && strncasecmp(k, "error", 5) == 0)
            slot = &out->error;
        if (slot) {
            free(*slot);
            *slot = v;
        } else {
            free(v);
        }
    }
    if (!out->scheme) {
        lkb_oci_challenge_free(out);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

char *lkb_oci_basic_auth(const char *user, const char *secret)
{
    char *plain = lkb_strf("%s:%s", user, secret);
    if (!plain)
        return NULL;
    size_t n = strlen(plain);
    char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
    if (out) {
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)n);
    }
    OPENSSL_cleanse(plain, n);
    free(plain);
    return out;
}

static bool is_hub(const char *host)
{
    return strcmp(host, "registry-1.docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
           strcmp(host, "docker.io") == 0;
}

/* Does a config.json key ("https://index.docker.io/v1/", "host:5000",
 * "http://host") name REGISTRY? */
static bool key_matches(const char *key, const char *registry)
{
    const char *k = strstr(key, "://");
    k = k ? k + 3 : key;
    size_t n = strcspn(k, "/");
    char host[256];
    if (n >= sizeof host)
        return false;
    memcpy(host, k, n);
    host[n] = '\0';
    if (is_hub(registry))
        return is_hub(host);
    return strcmp(host, registry) == 0;
}

static int split_user_secret(const char *s, size_t len, char **user, char **secret)
{
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return 0;
    *user = strndup(s, (size_t)(colon - s));
    *secret = strndup(colon + 1, len - (size_t)(colon - s) - 1);
    return *user && *secret ? 1 : -1;
}

/* host or host:port (digits), so "user:pa=ss" is not taken for a host. */
static bool looks_like_host(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-'))
        i++;
    if (i == 0)
        return false;
    if (i == n)
        return true;
    if (s[i] != ':' || i + 1 == n)
        return false;
    for (i++; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* LKB_REGISTRY_AUTH="user:pass" (every registry) or "host=user:pass",
 * several entries separated by white space; a host entry wins. */
static int env_credentials(const char *registry, char **user, char **secret)
{
    const char *v = getenv("LKB_REGISTRY_AUTH");
    if (!v || !*v)
        return 0;
    const char *global = NULL;
    size_t global_len = 0;
    for (const char *p = v; *p;) {
        p += strspn(p, " \t\n,");
        size_t len = strcspn(p, " \t\n");
        if (!len)
            break;
        const char *eq = memchr(p, '=', len);
        if (eq && looks_like_host(p, (size_t)(eq - p))) {
            size_t hl = (size_t)(eq - p);
            if (strlen(registry) == hl && strncmp(p, registry, hl) == 0)
                return split_user_secret(eq + 1, len - hl - 1, user, secret);
        } else if (!global) {
            global = p;
            global_len = len;
        }
        p += len;
    }
    return global ? split_user_secret(global, global_len, user, secret) : 0;
}

/* Run `docker-credential-NAME get` with the server URL on stdin. */
static int helper_credentials(const char *name, const char *registry, char **user,
                              char **secret, struct lkb_error *err)
{
    char prog[128];
    snprintf(prog, sizeof prog, "docker-credential-%s", name);
    int in[2], out[2];
    if (pipe(in) < 0)
        return lkb_error_errno(err, LKB_ERR_FETCH, errno, "pipe");
    if (pipe(out) < 0) {
        close(in[0]);
        close(in[1]);
        return lkb_error_errno(err, LKB_ERR_FETCH, errno, "pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {prog, "get", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        lkb_debug("credential helper %s not usable: %s", prog, strerror(rc));
        return 0;
    }
    const char *server = is_hub(registry) ? "https://index.docker.io/v1/" : registry;
    /* A helper that exits without reading must not SIGPIPE us: block the
     * signal around the write and swallow the one it may raise. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    ssize_t wn = write(in[1], server, strlen(server));
    if (wn < 0 && errno == EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    close(in[1]);
    char buf[16384];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(out[0], buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf - 1)
            break;
    }
    buf[n] = '\0';
    close(out[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status) && (WEXITSTATUS(status) == 127 ||
                                  strstr(buf, "credentials not found")))
            return 0;
        return lkb_error_set(err, LKB_ERR_FETCH, "credential helper %s failed for %s: %.200s",
                             prog, server, buf);
    }
    json_t *j = json_loads(buf, 0, NULL);
    const char *u = oci_json_str(j, "Username"), *s = oci_json_str(j, "Secret");
    if (!u || !s) {
        json_decref(j);
        return lkb_error_set(err, LKB_ERR_FETCH, "credential helper %s printed no Username/Secret",
                             prog);
    }
    *user = strdup(u);
    *secret = strdup(s);
    json_decref(j);
    return *user && *secret ? 1 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

static int config_auth_field(json_t *entry, char **user, char **secret, struct lkb_error *err)
{
    const char *b64 = oci_json_str(entry, "auth");
    if (b64 && *b64) {
        size_t n = strlen(b64);
        unsigned char *dec = malloc(n + 1);
        if (!dec)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        int len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
        if (len < 0) {
            free(dec);
            return lkb_error_set(err, LKB_ERR_FETCH, "docker config: invalid base64 auth");
        }
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
            len--;
        int rc = split_user_secret((const char *)dec, (size_t)len, user, secret);
        OPENSSL_cleanse(dec, n);
        free(dec);
        if (rc == 0)
            return lkb_error_set(err, LKB_ERR_FETCH, "docker config: auth is not user:password");
        return rc;
    }
    const char *u = oci_json_str(entry, "username"), *p = oci_json_str(entry, "password");
    if (u && p) {
        *user = strdup(u);
        *secret = strdup(p);
        return 1;
    }
    return 0;
}

int lkb_oci_credentials(const char *registry, char **user, char **secret, struct lkb_error *err)
{
    *user = *secret = NULL;
    int rc = env_credentials(registry, user, secret);
    if (rc != 0)
        return rc < 0 ? lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory") : 1;

    char *path;
    const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    if (dc && *dc)
        path = lkb_strf("%s/config.json", dc);
    else if (home && *home)
        path = lkb_strf("%s/.docker/config.json", home);
    else
        return 0;
    if (!path)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (access(path, F_OK) < 0) {
        free(path);
        return 0;
    }
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) {
        lkb_error_set(err, LKB_ERR_FETCH, "%s: %s", path, je.text);
        free(path);
        return -1;
    }
    const char *key;
    json_t *v;
    rc = 0;
    json_object_foreach(json_object_get(cfg, "credHelpers"), key, v)
    {
        if (json_is_string(v) && key_matches(key, registry)) {
            rc = helper_credentials(json_string_value(v), registry, user, secret, err);
            goto done;
        }
    }
    json_object_foreach(json_object_get(cfg, "auths"), key, v)
    {
        if (key_matches(key, registry) && (rc = config_auth_field(v, user, secret, err)) != 0)
            goto done;
    }
    const char *store = oci_json_str(cfg, "credsStore");
    if (store && *store)
        rc = helper_credentials(store, registry, user, secret, err);
done:
    if (rc < 0 && err)
        lkb_error_prefix(err, "credentials for %s: ", registry);
    if (rc <= 0) {
        free(*user);
        free(*secret);
        *user = *secret = NULL;
    }
    json_decref(cfg);
    free(path);
    return rc;
}
