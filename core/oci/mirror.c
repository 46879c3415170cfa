/* Registry mirrors (LinuxKit's global -mirror flag and LINUXKIT_MIRROR,
 * build-and-outputs.md §1.2, §15.4): REGISTRY=URL or a bare URL for every
 * registry ("*"). A mirror rewrites <registry>/<repo> to
 * <mirror host>/<mirror path>/<repo>. The table is process-wide, as in
 * LinuxKit, because the flags are global options there. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "oci/mirror.h"
#include "util/log.h"

static struct oci_mirror *mirrors;
static size_t n_mirrors;
static bool env_loaded;

static void mirror_free(struct oci_mirror *m)
{
    free(m->key);
    free(m->url);
    free(m->host);
    free(m->prefix);
}

/* Docker Hub's three names are one registry. */
static const char *normal_key(const char *registry)
{
    if (!strcmp(registry, "index.docker.io") || !strcmp(registry, "registry-1.docker.io"))
        return "docker.io";
    return registry;
}

static int parse_spec(const char *spec, size_t len, struct oci_mirror *m, struct lkb_error *err)
{
    memset(m, 0, sizeof *m);
    char *s = strndup(spec, len);
    if (!s)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* "REGISTRY=URL": the key cannot contain "://", the URL must. */
    char *url = s, *eq = strchr(s, '='), *sep = strstr(s, "://");
    const char *key = "*";
    if (eq && (!sep || eq < sep)) {
        *eq = '\0';
        key = s;
        url = eq + 1;
        if (!*key || strchr(key, '/')) {
            lkb_error_set(err, LKB_ERR_USAGE,
                          "-mirror \"%.*s\": want REGISTRY=URL or URL, REGISTRY a host[:port]",
                          (int)len, spec);
            free(s);
            return -1;
        }
    }
    bool https = !strncmp(url, "https://", 8), http = !strncmp(url, "http://", 7);
    const char *rest = url + (https ? 8 : http ? 7 : 0);
    size_t hlen = strcspn(rest, "/");
    if ((!https && !http) || hlen == 0) {
        lkb_error_set(err, LKB_ERR_USAGE,
                      "-mirror \"%.*s\": the mirror URL must start with http:// or https:// and "
                      "name a host",
                      (int)len, spec);
        free(s);
        return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)rest[i]) || rest[i] == '@' || rest[i] == '?' ||
            rest[i] == '#') {
            lkb_error_set(err, LKB_ERR_USAGE, "-mirror \"%.*s\": bad host in the mirror URL",
                          (int)len, spec);
            free(s);
            return -1;
        }
    /* The path without leading/trailing slashes is a repository prefix. */
    const char *p = rest + hlen;
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    m->key = strdup(normal_key(key));
    m->url = strdup(url);
    m->scheme = https ? "https" : "http";
    m->host = strndup(rest, hlen);
    m->prefix = strndup(p, plen);
    free(s);
    if (!m->key || !m->url || !m->host || !m->prefix) {
        mirror_free(m);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

/* Add or (when REPLACE) overwrite the entry for m->key; m is moved in. */
static int put(struct oci_mirror *m, bool replace, struct lkb_error *err)
{
    for (size_t i = 0; i < n_mirrors; i++)
        if (!strcmp(mirrors[i].key, m->key)) {
            if (replace) {
                mirror_free(&mirrors[i]);
                mirrors[i] = *m;
            } else {
                mirror_free(m);
            }
            return 0;
        }
    struct oci_mirror *v = realloc(mirrors, (n_mirrors + 1) * sizeof *v);
    if (!v) {
        mirror_free(m);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    mirrors = v;
    mirrors[n_mirrors++] = *m;
    return 0;
}

/* LINUXKIT_MIRROR: space- or comma-separated specs. Entries already set by
 * a flag stay (flags win whatever the order of the calls). */
static int load_env(struct lkb_error *err)
{
    if (env_loaded)
        return 0;
    env_loaded = true;
    const char *v = getenv("LINUXKIT_MIRROR");
    for (const char *p = v ? v : ""; *p;) {
        size_t skip = strspn(p, " ,\t\n");
        p += skip;
        size_t len = strcspn(p, " ,\t\n");
        if (!len)
            break;
        struct oci_mirror m;
        if (parse_spec(p, len, &m, err) < 0 || put(&m, false, err) < 0)
            return lkb_error_prefix(err, "LINUXKIT_MIRROR: ");
        p += len;
    }
    return 0;
}

int lkb_oci_mirror_add(const char *spec, struct lkb_error *err)
{
    struct oci_mirror m;
    if (parse_spec(spec, strlen(spec), &m, err) < 0)
        return -1;
    return put(&m, true, err);
}

int lkb_oci_mirrors_load_env(struct lkb_error *err) { return load_env(err); }

void lkb_oci_mirrors_reset(void)
{
    for (size_t i = 0; i < n_mirrors; i++)
        mirror_free(&mirrors[i]);
    free(mirrors);
    mirrors = NULL;
    n_mirrors = 0;
    env_loaded = false;
}

struct oci_mirror *oci_mirror_for(const char *registry)
{
    struct lkb_error err;
    if (load_env(&err) < 0)
        lkb_warn("%s", err.msg); /* the CLI reports this earlier as a usage error */
    const char *key = normal_key(registry);
    struct oci_mirror *any = NULL;
    for (size_t i = 0; i < n_mirrors; i++) {
        if (!strcmp(mirrors[i].key, key))
            return &mirrors[i];
        if (!strcmp(mirrors[i].key, "*"))
            any = &mirrors[i];
    }
    return any;
}
