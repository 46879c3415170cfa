/* Merging SPDX documents into the build's one SPDX 2.3 document and
 * writing it (build-and-outputs.md §9.2). Elements are kept as the
 * attestations wrote them; only what LinuxKit changes is changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "oci/digest.h"
#include "sbom/sbom.h"

/* The document's element lists, in SPDX 2.3 JSON key order (LinuxKit's
 * writer, spdx/tools-golang, emits them in this order, empty ones left out). */
enum { L_EXTREFS, L_PACKAGES, L_FILES, L_LICENSES, L_RELATIONSHIPS, L_ANNOTATIONS, L_COUNT };
static const char *const list_key[L_COUNT] = {"externalDocumentRefs", "packages", "files",
                                              "hasExtractedLicensingInfos", "relationships",
                                              "annotations"};

struct lkb_sbom {
    json_t *lists[L_COUNT];
};

struct lkb_sbom *lkb_sbom_new(void)
{
    struct lkb_sbom *s = calloc(1, sizeof *s);
    for (int i = 0; s && i < L_COUNT; i++)
        if (!(s->lists[i] = json_array())) {
            lkb_sbom_free(s);
            return NULL;
        }
    return s;
}

void lkb_sbom_free(struct lkb_sbom *s)
{
    if (!s)
        return;
    for (int i = 0; i < L_COUNT; i++)
        json_decref(s->lists[i]);
    free(s);
}

/* Go's path.Clean on a joined path: hand-written because C has no lexical
 * cleaner (realpath(3) resolves against the host's file system). Rooted
 * paths drop ".." at the root; relative ones keep leading "..". */
static char *go_clean(const char *p)
{
    size_t n = strlen(p);
    bool rooted = p[0] == '/';
    char *out = malloc(n + 2);
    if (!out)
        return NULL;
    size_t o = 0, base = 0; /* base: where ".." may no longer pop */
    if (rooted)
        out[o++] = '/', base = 1;
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/')
            i++;
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t len = j - i;
        if (len == 0 || (len == 1 && p[i] == '.')) {
            /* empty or "." */
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (o > base) {
                while (o > base && out[o - 1] != '/')
                    o--;
                if (o > base)
                    o--; /* the separator before the popped name */
            } else if (!rooted) {
                if (o > 0)
                    out[o++] = '/';
                memcpy(out + o, "..", 2);
                o += 2;
                base = o;
            }
        } else {
            if (o > (rooted ? 1u : 0u))
                out[o++] = '/';
            memcpy(out + o, p + i, len);
            o += len;
        }
        i = j;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    return out;
}

char *lkb_sbom_path_join(const char *prefix, const char *name)
{
    prefix = prefix ? prefix : "";
    name = name ? name : "";
    if (!*prefix && !*name)
        return strdup("");
    size_t a = strlen(prefix), b = strlen(name);
    char *j = malloc(a + b + 2);
    if (!j)
        return NULL;
    if (*prefix && *name)
        snprintf(j, a + b + 2, "%s/%s", prefix, name);
    else
        snprintf(j, a + b + 2, "%s", *prefix ? prefix : name);
    char *c = go_clean(j);
    free(j);
    return c;
}

/* Set KEY of element E to PREFIX joined with its value (a missing value
 * counts as ""; an empty result leaves the key out, as Go's omitempty). */
static int prefix_key(json_t *e, const char *key, const char *prefix, const char *what,
                      const char *list, size_t idx, struct lkb_error *err)
{
    json_t *v = json_object_get(e, key);
    if (v && !json_is_string(v))
        return lkb_error_set(err, LKB_ERR_BUILD, "%s: SPDX %s[%zu].%s is not a string", what,
                             list, idx, key);
    char *j = lkb_sbom_path_join(prefix, v ? json_string_value(v) : "");
    if (!j)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = *j ? json_object_set_new(e, key, json_string(j)) : (json_object_del(e, key), 0);
    free(j);
    return rc == 0 ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}

static int add_relationship(json_t *list, const char *a, const char *type, const char *b)
{
    json_t *r = json_pack("{s:s,s:s,s:s}", "spdxElementId", a, "relatedSpdxElement", b,
                          "relationshipType", type);
    return r ? json_array_append_new(list, r) : -1;
}

/* An element id list (documentDescribes, hasFiles) as relationships from
 * FROM; a malformed list is an error. */
static int ids_to_relationships(json_t *ids, const char *from, const char *type, json_t *list,
                                const char *what, const char *key, struct lkb_error *err)
{
    if (!ids)
        return 0;
    if (!json_is_array(ids))
        return lkb_error_set(err, LKB_ERR_BUILD, "%s: %s is not an array", what, key);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (!json_is_string(id) || !from)
            return lkb_error_set(err, LKB_ERR_BUILD, "%s: %s[%zu] is not an element id", what,
                                 key, i);
        if (add_relationship(list, from, type, json_string_value(id)) < 0)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

int lkb_sbom_add_document(struct lkb_sbom *s, json_t *doc, const char *prefix, const char *what,
                          struct lkb_error *err)
{
    if (!json_is_object(doc))
        return lkb_error_set(err, LKB_ERR_BUILD, "%s: the SPDX document is not a JSON object",
                             what);
    /* Staged first: a malformed document adds nothing. */
    json_t *add[L_COUNT] = {0};
    int rc = 0;
    for (int l = 0; l < L_COUNT && rc == 0; l++) {
        json_t *src = json_object_get(doc, list_key[l]);
        if (src && !json_is_array(src) && !json_is_null(src)) {
            rc = lkb_error_set(err, LKB_ERR_BUILD, "%s: SPDX %s is not an array", what,
                               list_key[l]);
            break;
        }
        if (!(add[l] = json_array())) {
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            break;
        }
        size_t i;
        json_t *e;
        json_array_foreach(src, i, e)
        {
            if (!json_is_object(e)) {
                rc = lkb_error_set(err, LKB_ERR_BUILD, "%s: SPDX %s[%zu] is not an object", what,
                                   list_key[l], i);
                break;
            }
            json_t *c = json_deep_copy(e);
            if (!c || json_array_append_new(add[l], c) < 0) {
                rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                break;
            }
        }
    }
    /* LinuxKit's reader turns these into relationships, after the
     * document's own ones. */
    const char *docid = json_string_value(json_object_get(doc, "SPDXID"));
    if (rc == 0)
        rc = ids_to_relationships(json_object_get(doc, "documentDescribes"),
                                  docid ? docid : "SPDXRef-DOCUMENT", "DESCRIBES",
                                  add[L_RELATIONSHIPS], what, "documentDescribes", err);
    size_t i;
    json_t *e;
    json_array_foreach(add[L_PACKAGES], i, e)
    {
        if (rc < 0)
            break;
        rc = prefix_key(e, "packageFileName", prefix, what, "packages", i, err);
        json_t *pid = json_object_get(e, "SPDXID");
        if (rc == 0)
            rc = ids_to_relationships(json_object_get(e, "hasFiles"), json_string_value(pid),
                                      "CONTAINS", add[L_RELATIONSHIPS], what, "hasFiles", err);
        json_object_del(e, "hasFiles");
    }
    json_array_foreach(add[L_FILES], i, e)
    {
        if (rc == 0)
            rc = prefix_key(e, "fileName", prefix, what, "files", i, err);
    }
    for (int l = 0; l < L_COUNT; l++) {
        if (rc == 0 && json_array_extend(s->lists[l], add[l]) < 0)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        json_decref(add[l]);
    }
    return rc;
}

/* A UUID of version VERSION from 16 bytes (RFC 9562 layout). */
static void uuid_format(const unsigned char b[16], int version, char out[37])
{
    unsigned char u[16];
    memcpy(u, b, 16);
    u[6] = (unsigned char)((u[6] & 0x0f) | (version << 4));
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

static json_t *document(const struct lkb_sbom *s, const char *ns, const char *created)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s}", "spdxVersion", "SPDX-2.3", "dataLicense",
                          "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", "sbom",
                          "documentNamespace", ns);
    json_t *ci = json_pack("{s:s,s:[s,s],s:s}", "licenseListVersion", "3.20", "creators",
                           "Organization: LinuxKit", "Tool: linuxkit", "created", created);
    if (!d || !ci) {
        json_decref(d);
        json_decref(ci);
        return NULL;
    }
    int rc = 0;
    for (int l = 0; l < L_COUNT; l++) {
        if (l == L_PACKAGES) /* creationInfo sits between the references and the packages */
            rc |= json_object_set(d, "creationInfo", ci);
        if (json_array_size(s->lists[l]))
            rc |= json_object_set(d, list_key[l], s->lists[l]);
    }
    json_decref(ci);
    if (rc) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Compact JSON plus a newline, as Go's json.Encoder writes. */
static char *dump(json_t *d, size_t *len)
{
    char *s = json_dumps(d, JSON_COMPACT);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *o = realloc(s, n + 2);
    if (!o) {
        free(s);
        return NULL;
    }
    o[n] = '\n';
    o[n + 1] = '\0';
    *len = n + 1;
    return o;
}

#define NS_PREFIX "https://github.com/linuxkit/linuxkit/sbom-"

int lkb_sbom_render(const struct lkb_sbom *s, int64_t now, char **out, size_t *len,
                    struct lkb_error *err)
{
    *out = NULL;
    char created[32] = "2017-04-18T16:30:00Z", uuid[37];
    unsigned char b[16];
    if (now >= 0) {
        time_t t = (time_t)now;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm))
            return lkb_error_set(err, LKB_ERR_INTERNAL, "cannot format time %lld",
                                 (long long)now);
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "no random bytes for the SBOM namespace");
        uuid_format(b, 4, uuid);
    } else {
        /* The namespace names this content: the document with an empty
         * namespace, hashed, as a version 8 (custom) UUID. */
        json_t *d = document(s, "", created);
        size_t n;
        char *bytes = d ? dump(d, &n) : NULL;
        json_decref(d);
        char digest[LKB_DIGEST_MAX];
        int rc = bytes ? lkb_digest_bytes(bytes, n, digest, err)
                       : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(bytes);
        if (rc < 0)
            return -1;
        for (int i = 0; i < 16; i++)
            sscanf(digest + 7 + 2 * i, "%2hhx", &b[i]);
        uuid_format(b, 8, uuid);
    }
    char ns[sizeof NS_PREFIX + 40];
    snprintf(ns, sizeof ns, NS_PREFIX "%s", uuid);
    json_t *d = document(s, ns, created);
    *out = d ? dump(d, len) : NULL;
    json_decref(d);
    return *out ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
}
