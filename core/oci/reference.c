/* Image references: LinuxKit's expansion and containerd's canonical form
 * (the cache key, yaml.md §13), then the Docker grammar for the registry
 * side. Hand-written because no C library implements these grammars; the
 * rules are small and tabled in tests/unit/test_oci_ref.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/digest.h"
#include "oci/oci.h"

/* path.Clean for the part after the host: collapse "//", drop "." and
 * trailing "/", resolve "..". */
static void clean_path(char *p)
{
    char *out = p;
    const char *s = p;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (out > p && *--out != '/')
                ;
        } else if (!(n == 1 && s[0] == '.')) {
            if (out != p)
                *out++ = '/';
            memmove(out, s, n);
            out += n;
        }
        s += n;
    }
    *out = '\0';
}

/* LinuxKit's ReferenceExpand: add docker.io/library/ or docker.io/. */
static char *expand(const char *text)
{
    size_t slashes = 0;
    for (const char *p = text; *p; p++)
        slashes += *p == '/';
    const char *prefix = "";
    if (slashes == 0) {
        prefix = "docker.io/library/";
    } else if (slashes == 1) {
        size_t n = (size_t)(strchr(text, '/') - text);
        bool host = memchr(text, '.', n) || memchr(text, ':', n) ||
                    (n == 9 && strncmp(text, "localhost", 9) == 0);
        if (!host)
            prefix = "docker.io/";
    }
    size_t len = strlen(prefix) + strlen(text) + 1;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s%s", prefix, text);
    return s;
}

/* containerd reference.Parse + Spec.String on an expanded string. Splits
 * into locator (host/path) and object (":tag", "tag@digest", "@digest"). */
static int split_canonical(const char *expanded, char **locator, char **object,
                           struct lkb_error *err)
{
    *locator = *object = NULL;
    if (strstr(expanded, "://"))
        return lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: contains ://",
                             expanded);
    const char *slash = strchr(expanded, '/');
    size_t hostlen = slash ? (size_t)(slash - expanded) : strlen(expanded);
    if (hostlen == 0)
        return lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: no host",
                             expanded);
    const char *path = slash ? slash : "";
    size_t plen = strcspn(path, ":@");
    size_t len = hostlen + plen + 2;
    char *loc = malloc(len);
    if (!loc)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    memcpy(loc, expanded, hostlen);
    loc[hostlen] = '/';
    memcpy(loc + hostlen + 1, path, plen);
    loc[hostlen + 1 + plen] = '\0';
    clean_path(loc + hostlen + 1);
    if (loc[hostlen + 1] == '\0')
        loc[hostlen] = '\0';
    const char *obj = path + plen;
    if (*obj == ':')
        obj++;
    *object = strdup(obj);
    if (!*object) {
        free(loc);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    *locator = loc;
    return 0;
}

static char *join_canonical(const char *locator, const char *object)
{
    size_t len = strlen(locator) + strlen(object) + 2;
    char *s = malloc(len);
    if (!s)
        return NULL;
    if (!*object)
        snprintf(s, len, "%s", locator);
    else if (*object == '@')
        snprintf(s, len, "%s%s", locator, object);
    else
        snprintf(s, len, "%s:%s", locator, object);
    return s;
}

int lkb_oci_ref_canonical(const char *text, char **out, struct lkb_error *err)
{
    *out = NULL;
    if (!text || !*text)
        return lkb_error_set(err, LKB_ERR_CONFIG, "empty image reference");
    char *e = expand(text);
    if (!e)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    char *loc, *obj;
    int rc = split_canonical(e, &loc, &obj, err);
    free(e);
    if (rc < 0)
        return -1;
    *out = join_canonical(loc, obj);
    free(loc);
    free(obj);
    return *out ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

static bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* Docker's path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_alnum_lower(s[0]))
        return false;
    while (i < n) {
        while (i < n && is_alnum_lower(s[i]))
            i++;
        if (i == n)
            return true;
        size_t sep = i;
        if (s[i] == '.' || s[i] == '_') {
            i++;
            if (s[sep] == '_' && i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == n || !is_alnum_lower(s[i]))
            return false;
    }
    return true;
}

static bool valid_repository(const char *repo)
{
    const char *s = repo;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (!valid_component(s, n))
            return false;
        if (!e)
            return true;
        s = e + 1;
    }
}

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

/* Docker's domain grammar: dot-separated [A-Za-z0-9-] labels (or a
 * bracketed IPv6 address), then an optional numeric port. Checked here so
 * the configuration loader refuses what the registry client cannot reach. */
static bool valid_host(const char *h)
{
    const char *p = h;
    if (*p == '[') {
        p = strchr(p, ']');
        if (!p || p == h + 1)
            return false;
        for (const char *q = h + 1; q < p; q++)
            if (!strchr("0123456789abcdefABCDEF:.", *q))
                return false;
        p++;
    } else {
        for (;;) {
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
            if (!n || p[0] == '-' || p[n - 1] == '-')
                return false;
            p += n;
            if (*p != '.')
                break;
            p++;
        }
    }
    if (*p == ':') {
        size_t n = strspn(p + 1, "0123456789");
        if (!n || n > 5 || p[1 + n])
            return false;
        return atoi(p + 1) <= 65535;
    }
    return *p == '\0';
}

static bool host_is_loopback(const char *host)
{
    if (strncmp(host, "[::1]", 5) == 0)
        return true;
    size_t n = strcspn(host, ":");
    if (n == 9 && strncmp(host, "localhost", 9) == 0)
        return true;
    return strncmp(host, "127.", 4) == 0;
}

void lkb_oci_ref_free(struct lkb_oci_ref *ref)
{
    if (!ref)
        return;
    free(ref->canonical);
    free(ref->registry);
    free(ref->repository);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof *ref);
}

const char *lkb_oci_ref_object(const struct lkb_oci_ref *ref)
{
    return ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
}

int lkb_oci_ref_parse(const char *text, struct lkb_oci_ref *out, struct lkb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return lkb_error_set(err, LKB_ERR_CONFIG, "empty image reference");
    char *e = expand(text);
    if (!e)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    /* The canonical form cleans the path ("a/../b" is "b"): a ".." would
     * silently name another repository ("//" and "." are harmless). */
    const char *path = strchr(e, '/');
    for (const char *c = path ? path + 1 : NULL; c && *c && !strchr(":@", *c);) {
        size_t n = strcspn(c, "/:@");
        if (n == 2 && c[0] == '.' && c[1] == '.') {
            lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: a '..' component",
                          text);
            free(e);
            return -1;
        }
        c += n + (c[n] == '/');
    }
    char *loc = NULL, *obj = NULL;
    if (split_canonical(e, &loc, &obj, err) < 0) {
        free(e);
        return -1;
    }
    free(e);
    out->canonical = join_canonical(loc, obj);
    if (!out->canonical)
        goto oom;

    /* "redis:" or "redis@": a separator with nothing after it. */
    const char *last = strrchr(text, '/');
    if (!*obj && strpbrk(last ? last : text, ":@")) {
        lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: empty tag or digest",
                      text);
        goto fail;
    }
    /* Object: "tag", "tag@digest" or "@digest". */
    char *at = strchr(obj, '@');
    if (at) {
        out->digest = strdup(at + 1);
        *at = '\0';
        if (!out->digest)
            goto oom;
        if (!lkb_digest_valid(out->digest)) {
            lkb_error_set(err, LKB_ERR_CONFIG,
                          "invalid image reference %s: digest must be sha256:<64 hex digits>",
                          text);
            goto fail;
        }
    }
    if (*obj) {
        if (!valid_tag(obj)) {
            lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: bad tag '%s'", text,
                          obj);
            goto fail;
        }
        if (!(out->tag = strdup(obj)))
            goto oom;
    }

    /* Registry side: the first component is a host only if it looks like
     * one (Docker's rule, plus "localhost"); otherwise Docker Hub. */
    char *slash = strchr(loc, '/');
    if (!slash) {
        lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: no repository", text);
        goto fail;
    }
    size_t hn = (size_t)(slash - loc);
    bool host = memchr(loc, '.', hn) || memchr(loc, ':', hn) ||
                (hn == 9 && strncmp(loc, "localhost", 9) == 0);
    const char *repo = host ? slash + 1 : loc;
    const char *reg = "docker.io";
    char hostbuf[256];
    if (host) {
        if (hn >= sizeof hostbuf) {
            lkb_error_set(err, LKB_ERR_CONFIG, "invalid image reference %s: host too long", text);
            goto fail;
        }
        memcpy(hostbuf, loc, hn);
        hostbuf[hn] = '\0';
        reg = hostbuf;
        if (!valid_host(hostbuf)) {
            lkb_error_set(err, LKB_ERR_CONFIG,
                          "invalid image reference %s: '%s' is not a registry host[:port]", text,
                          hostbuf);
            goto fail;
        }
    }
    bool hub = strcmp(reg, "docker.io") == 0 || strcmp(reg, "index.docker.io") == 0 ||
               strcmp(reg, "registry-1.docker.io") == 0;
    if (hub) {
        out->registry = strdup("registry-1.docker.io");
        size_t n = strlen(repo) + 9;
        out->repository = malloc(n);
        if (out->repository)
            snprintf(out->repository, n, "%s%s", strchr(repo, '/') ? "" : "library/", repo);
    } else {
        out->registry = strdup(reg);
        out->repository = strdup(repo);
    }
    if (!out->registry || !out->repository)
        goto oom;
    if (!valid_repository(out->repository)) {
        lkb_error_set(err, LKB_ERR_CONFIG,
                      "invalid image reference %s: repository '%s' must be lower-case "
                      "letters, digits and separators",
                      text, out->repository);
        goto fail;
    }
    out->loopback = host_is_loopback(out->registry);
    free(loc);
    free(obj);
    return 0;
oom:
    lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
fail:
    free(loc);
    free(obj);
    lkb_oci_ref_free(out);
    return -1;
}
