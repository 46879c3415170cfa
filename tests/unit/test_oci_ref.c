#define _GNU_SOURCE /* asprintf */
/* Reference parsing/canonical form, WWW-Authenticate parsing, credential
 * sources, platform selection, digests and the cache index: no network. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/auth.h"
#include "oci/digest.h"
#include "oci/internal.h"
#include "oci/oci.h"
#include "util/fs.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
    const char *in, *canonical, *registry, *repository, *tag, *digest;
} refs[] = {
    {"redis", "docker.io/library/redis", "registry-1.docker.io", "library/redis", NULL, NULL},
    {"redis:7", "docker.io/library/redis:7", "registry-1.docker.io", "library/redis", "7", NULL},
    {"alpine:latest", "docker.io/library/alpine:latest", "registry-1.docker.io", "library/alpine",
     "latest", NULL},
    {"linuxkit/init:abc", "docker.io/linuxkit/init:abc", "registry-1.docker.io",
     "linuxkit/init", "abc", NULL},
    {"docker.io/library/redis", "docker.io/library/redis", "registry-1.docker.io",
     "library/redis", NULL, NULL},
    {"docker.io/redis", "docker.io/redis", "registry-1.docker.io", "library/redis", NULL, NULL},
    {"index.docker.io/foo/bar:1", "index.docker.io/foo/bar:1", "registry-1.docker.io", "foo/bar",
     "1", NULL},
    {"localhost:5000/foo", "localhost:5000/foo", "localhost:5000", "foo", NULL, NULL},
    {"localhost/foo:t", "localhost/foo:t", "localhost", "foo", "t", NULL},
    {"myregistry.io/foo", "myregistry.io/foo", "myregistry.io", "foo", NULL, NULL},
    {"127.0.0.1:5000/a/b/c:v1.2-x_y", "127.0.0.1:5000/a/b/c:v1.2-x_y", "127.0.0.1:5000", "a/b/c",
     "v1.2-x_y", NULL},
    /* 3+ components without a host-looking first one: Docker Hub (documented) */
    {"foo/bar/baz", "foo/bar/baz", "registry-1.docker.io", "foo/bar/baz", NULL, NULL},
    {"redis@sha256:" D64, "docker.io/library/redis@sha256:" D64, "registry-1.docker.io",
     "library/redis", NULL, "sha256:" D64},
    {"quay.io/a/b:tag@sha256:" D64, "quay.io/a/b:tag@sha256:" D64, "quay.io", "a/b", "tag",
     "sha256:" D64},
    {"quay.io//a///b:t", "quay.io/a/b:t", "quay.io", "a/b", "t", NULL},
    {"ghcr.io/a/b/./c", "ghcr.io/a/b/c", "ghcr.io", "a/b/c", NULL, NULL},
    {"r.io/my_repo/x-y__z.w", "r.io/my_repo/x-y__z.w", "r.io", "my_repo/x-y__z.w", NULL, NULL},
};

Test(oci_ref, table)
{
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        struct lkb_oci_ref r;
        struct lkb_error err;
        cr_assert_eq(lkb_oci_ref_parse(refs[i].in, &r, &err), 0, "%s: %s", refs[i].in, err.msg);
        cr_expect_str_eq(r.canonical, refs[i].canonical, "%s", refs[i].in);
        cr_expect_str_eq(r.registry, refs[i].registry, "%s", refs[i].in);
        cr_expect_str_eq(r.repository, refs[i].repository, "%s", refs[i].in);
        if (refs[i].tag)
            cr_expect(r.tag && strcmp(r.tag, refs[i].tag) == 0, "%s tag %s", refs[i].in, r.tag);
        else
            cr_expect_null(r.tag, "%s", refs[i].in);
        if (refs[i].digest)
            cr_expect(r.digest && strcmp(r.digest, refs[i].digest) == 0, "%s", refs[i].in);
        else
            cr_expect_null(r.digest, "%s", refs[i].in);
        char *c;
        cr_assert_eq(lkb_oci_ref_canonical(refs[i].in, &c, &err), 0);
        cr_expect_str_eq(c, refs[i].canonical);
        free(c);
        lkb_oci_ref_free(&r);
    }
}

Test(oci_ref, object_and_loopback)
{
    struct lkb_oci_ref r;
    struct lkb_error err;
    cr_assert_eq(lkb_oci_ref_parse("alpine", &r, &err), 0);
    cr_expect_str_eq(lkb_oci_ref_object(&r), "latest");
    cr_expect_not(r.loopback);
    lkb_oci_ref_free(&r);
    cr_assert_eq(lkb_oci_ref_parse("127.0.0.1:5000/x:1@sha256:" D64, &r, &err), 0);
    cr_expect_str_eq(lkb_oci_ref_object(&r), "sha256:" D64, "digest wins over the tag");
    cr_expect(r.loopback);
    lkb_oci_ref_free(&r);
    cr_assert_eq(lkb_oci_ref_parse("localhost:1/x", &r, &err), 0);
    cr_expect(r.loopback);
    lkb_oci_ref_free(&r);
}

Test(oci_ref, rejects)
{
    static const char *bad[] = {
        "",
        "http://registry/foo",
        "Redis",                 /* upper case */
        "quay.io/Foo/bar",       /* upper case */
        "redis:",                /* empty tag */
        "redis:-bad",            /* tag may not start with '-' */
        "redis@sha256:abc",      /* short digest */
        "redis@sha512:" D64,     /* not sha256 */
        "redis@sha256:" D64 "0", /* too long */
        "quay.io/a__-b",         /* bad separator */
        "quay.io/-a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct lkb_oci_ref r;
        struct lkb_error err;
        lkb_error_clear(&err);
        cr_expect_eq(lkb_oci_ref_parse(bad[i], &r, &err), -1, "'%s' should be rejected", bad[i]);
        cr_expect(err.msg[0], "'%s': message expected", bad[i]);
    }
    /* The canonical form does no validation beyond "://" (yaml.md §13). */
    char *c;
    struct lkb_error err;
    cr_expect_eq(lkb_oci_ref_canonical("Redis", &c, &err), 0);
    cr_expect_str_eq(c, "docker.io/library/Redis");
    free(c);
    cr_expect_eq(lkb_oci_ref_canonical("a://b", &c, &err), -1);
}

Test(oci_auth, challenge_parse)
{
    struct lkb_oci_challenge c;
    struct lkb_error err;
    cr_assert_eq(lkb_oci_challenge_parse(
                     "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                     "scope=\"repository:library/alpine:pull\"",
                     &c, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(c.scheme, "Bearer");
    cr_expect_str_eq(c.realm, "https://auth.docker.io/token");
    cr_expect_str_eq(c.service, "registry.docker.io");
    cr_expect_str_eq(c.scope, "repository:library/alpine:pull");
    lkb_oci_challenge_free(&c);

    /* Spaces, unquoted values, escapes, commas in quotes, unknown keys. */
    cr_assert_eq(lkb_oci_challenge_parse("  bearer  Realm = http://h:1/t , x=\"a,b\", "
                                         "scope=\"repository:a/b:pull,push\", "
                                         "error=\"insufficient_scope\", service=\"s\\\"q\"",
                                         &c, &err),
                 0, "%s", err.msg);
    cr_expect_str_eq(c.scheme, "bearer");
    cr_expect_str_eq(c.realm, "http://h:1/t");
    cr_expect_str_eq(c.scope, "repository:a/b:pull,push");
    cr_expect_str_eq(c.error, "insufficient_scope");
    cr_expect_str_eq(c.service, "s\"q");
    lkb_oci_challenge_free(&c);

    cr_assert_eq(lkb_oci_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err), 0);
    cr_expect_str_eq(c.scheme, "Basic");
    cr_expect_str_eq(c.realm, "Registry Realm");
    cr_expect_null(c.service);
    lkb_oci_challenge_free(&c);

    cr_expect_eq(lkb_oci_challenge_parse("", &c, &err), -1);
    cr_expect_eq(lkb_oci_challenge_parse("Bearer realm=\"unterminated", &c, &err), -1);
    cr_expect_eq(lkb_oci_challenge_parse("Bearer =x", &c, &err), -1);
}

Test(oci_auth, basic_header)
{
    char *h = lkb_oci_basic_auth("user", "pa:ss");
    cr_expect_str_eq(h, "Basic dXNlcjpwYTpzcw==");
    free(h);
}

static size_t dir_count(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *f = popen(cmd, "r");
    long n = -1;
    if (f) {
        if (fscanf(f, "%ld", &n) != 1)
            n = -1;
        pclose(f);
    }
    return (size_t)n;
}

static char *write_config(const char *dir, const char *json)
{
    char *p;
    cr_assert(asprintf(&p, "%s/config.json", dir) > 0);
    struct lkb_error err;
    cr_assert_eq(lkb_fs_write_atomic(p, json, strlen(json), 0600, &err), 0);
    return p;
}

Test(oci_auth, credentials_sources)
{
    char *dir;
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-cred", &dir, &err), 0);
    setenv("DOCKER_CONFIG", dir, 1);
    unsetenv("LKB_REGISTRY_AUTH");
    /* "am9objpzM2NyZXQ6eA==" = "john:s3cret:x" */
    free(write_config(dir, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":"
                           "\"am9objpzM2NyZXQ6eA==\"},\"reg.example:5000\":{\"auth\":"
                           "\"YTpi\"},\"http://other.example\":{\"username\":\"u\","
                           "\"password\":\"p\"}},\"credHelpers\":{\"helped.example\":"
                           "\"lkbtest\"}}"));
    char *u, *s;
    cr_assert_eq(lkb_oci_credentials("registry-1.docker.io", &u, &s, &err), 1, "%s", err.msg);
    cr_expect_str_eq(u, "john");
    cr_expect_str_eq(s, "s3cret:x");
    free(u);
    free(s);
    cr_assert_eq(lkb_oci_credentials("reg.example:5000", &u, &s, &err), 1);
    cr_expect_str_eq(u, "a");
    cr_expect_str_eq(s, "b");
    free(u);
    free(s);
    cr_assert_eq(lkb_oci_credentials("other.example", &u, &s, &err), 1);
    cr_expect_str_eq(u, "u");
    free(u);
    free(s);
    cr_expect_eq(lkb_oci_credentials("nothing.example", &u, &s, &err), 0);

    /* A credential helper found on PATH. */
    char *bin, *helper;
    cr_assert(asprintf(&bin, "%s/bin", dir) > 0);
    cr_assert(asprintf(&helper, "%s/docker-credential-lkbtest", bin) > 0);
    mkdir(bin, 0755);
    const char *script = "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 3\n"
                         "echo \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"hu\\\","
                         "\\\"Secret\\\":\\\"hs-$server\\\"}\"\n";
    cr_assert_eq(lkb_fs_write_atomic(helper, script, strlen(script), 0755, &err), 0);
    char *path;
    cr_assert(asprintf(&path, "%s:%s", bin, getenv("PATH")) > 0);
    setenv("PATH", path, 1);
    cr_assert_eq(lkb_oci_credentials("helped.example", &u, &s, &err), 1, "%s", err.msg);
    cr_expect_str_eq(u, "hu");
    cr_expect_str_eq(s, "hs-helped.example");
    free(u);
    free(s);

    /* credsStore applies to registries without an auths entry. */
    free(write_config(dir, "{\"credsStore\":\"lkbtest\",\"auths\":{}}"));
    cr_assert_eq(lkb_oci_credentials("store.example", &u, &s, &err), 1, "%s", err.msg);
    cr_expect_str_eq(s, "hs-store.example");
    free(u);
    free(s);
    /* A missing helper means "no credentials", not an error. */
    free(write_config(dir, "{\"credsStore\":\"does-not-exist\"}"));
    cr_expect_eq(lkb_oci_credentials("store.example", &u, &s, &err), 0);

    /* LKB_REGISTRY_AUTH overrides everything; a host entry beats the global one. */
    setenv("LKB_REGISTRY_AUTH", "glob:al  reg.example:5000=hu:hp", 1);
    cr_assert_eq(lkb_oci_credentials("reg.example:5000", &u, &s, &err), 1);
    cr_expect_str_eq(u, "hu");
    cr_expect_str_eq(s, "hp");
    free(u);
    free(s);
    cr_assert_eq(lkb_oci_credentials("x.example", &u, &s, &err), 1);
    cr_expect_str_eq(u, "glob");
    cr_expect_str_eq(s, "al");
    free(u);
    free(s);
    unsetenv("LKB_REGISTRY_AUTH");

    free(write_config(dir, "{not json"));
    cr_expect_eq(lkb_oci_credentials("x.example", &u, &s, &err), -1);
    cr_expect(strstr(err.msg, "config.json"), "%s", err.msg);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
    free(bin);
    free(helper);
    free(path);
}

Test(oci_platform, parse_and_select)
{
    struct oci_platform p;
    struct lkb_error err;
    cr_assert_eq(oci_platform_parse("arm64", &p, &err), 0);
    cr_expect_str_eq(p.os, "linux");
    cr_expect_str_eq(p.arch, "arm64");
    cr_expect_str_eq(p.variant, "");
    cr_assert_eq(oci_platform_parse("linux/arm/v7", &p, &err), 0);
    cr_expect_str_eq(p.arch, "arm");
    cr_expect_str_eq(p.variant, "v7");
    cr_assert_eq(oci_platform_parse("arm64/v8", &p, &err), 0);
    cr_expect_str_eq(p.os, "linux");
    cr_expect_str_eq(p.variant, "v8");
    cr_expect_eq(oci_platform_parse("a//b", &p, &err), -1);
    cr_expect_eq(oci_platform_parse("a/b/c/d", &p, &err), -1);

    json_t *idx = json_loads(
        "{\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"att\","
        "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
        "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"noplat\"},"
        "{\"mediaType\":\"" OCI_MT_OCI_INDEX "\",\"digest\":\"nested\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"armv7\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
        "{\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\",\"digest\":\"arm64v9\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v9\"}},"
        "{\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\",\"digest\":\"arm64\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
        "{\"mediaType\":\"" OCI_MT_OCI_MANIFEST "\",\"digest\":\"amd64\","
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
        0, NULL);
    cr_assert(idx);
    static const struct {
        const char *want, *digest;
    } sel[] = {
        {"amd64", "amd64"},     /* the nested index entry is skipped */
        {"arm64", "arm64"},     /* missing variant of arm64 means v8, preferred */
        {"arm64/v8", "arm64"},
        {"arm64/v9", "arm64v9"},
        {"arm", "armv7"},
        {"arm/v6", NULL},
        {"riscv64", NULL},
        {"x86_64", NULL}, /* used verbatim, as LinuxKit */
    };
    for (size_t i = 0; i < sizeof sel / sizeof *sel; i++) {
        cr_assert_eq(oci_platform_parse(sel[i].want, &p, &err), 0);
        json_t *d = oci_index_select(idx, &p);
        if (sel[i].digest)
            cr_expect(d && strcmp(oci_json_str(d, "digest"), sel[i].digest) == 0, "%s -> %s",
                      sel[i].want, d ? oci_json_str(d, "digest") : "none");
        else
            cr_expect_null(d, "%s should match nothing", sel[i].want);
    }
    json_decref(idx);
}

Test(oci_digest, streaming)
{
    char d[LKB_DIGEST_MAX];
    struct lkb_error err;
    cr_assert_eq(lkb_digest_bytes("abc", 3, d, &err), 0);
    cr_expect_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    struct lkb_sha256 h;
    cr_assert_eq(lkb_sha256_init(&h, &err), 0);
    lkb_sha256_update(&h, "a", 1);
    lkb_sha256_update(&h, "bc", 2);
    char d2[LKB_DIGEST_MAX];
    lkb_sha256_final(&h, d2);
    cr_expect_str_eq(d, d2);
    cr_expect(lkb_digest_valid(d));
    cr_expect_not(lkb_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
    cr_expect_not(lkb_digest_valid("sha512:ba78"));
    cr_expect_not(lkb_digest_valid(NULL));
}

Test(oci_cache, init_record_list_remove)
{
    char *dir;
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-cache", &dir, &err), 0);
    char *sub;
    cr_assert(asprintf(&sub, "%s/new/cache", dir) > 0);
    struct lkb_cache *c = lkb_cache_open(sub, &err);
    cr_assert(c, "%s", err.msg);
    char *p, *text;
    size_t n;
    cr_assert(asprintf(&p, "%s/oci-layout", sub) > 0);
    cr_assert_eq(lkb_fs_read_file(p, &text, &n, &err), 0);
    cr_expect_str_eq(text, "{\n    \"imageLayoutVersion\": \"1.0.0\"\n}");
    free(text);
    free(p);
    cr_assert(asprintf(&p, "%s/index.json", sub) > 0);
    cr_assert_eq(lkb_fs_read_file(p, &text, &n, &err), 0);
    cr_expect_str_eq(text, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index."
                           "v1+json\",\"manifests\":[]}");
    free(text);

    /* A blob with wrong content is refused and leaves nothing behind. */
    char d[LKB_DIGEST_MAX];
    cr_assert_eq(lkb_digest_bytes("hello", 5, d, &err), 0);
    cr_expect_eq(oci_blob_put(c, d, "jello", 5, NULL, &err), -1);
    cr_expect(strstr(err.msg, "digest mismatch"), "%s", err.msg);
    cr_expect_not(oci_blob_present(c, d, -1));
    char *ingest;
    cr_assert(asprintf(&ingest, "%s/ingest", sub) > 0);
    cr_expect_eq(dir_count(ingest), 0);
    cr_assert_eq(oci_blob_put(c, d, "hello", 5, NULL, &err), 0, "%s", err.msg);
    cr_expect(oci_blob_present(c, d, 5));
    cr_expect_eq(lkb_cache_blob_verify(c, d, 5, &err), 0);

    json_t *plat = json_pack("{s:s,s:s}", "architecture", "arm64", "os", "linux");
    json_t *descs[3] = {
        oci_descriptor(OCI_MT_OCI_MANIFEST, 5, d, "docker.io/library/a:1", plat),
        oci_descriptor(OCI_MT_OCI_INDEX, 5, d, "docker.io/library/b", NULL),
        oci_descriptor(OCI_MT_OCI_MANIFEST, 6, d, "docker.io/library/a:1", NULL),
    };
    cr_assert_eq(oci_index_record(c, descs, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(oci_index_record(c, descs + 2, 1, &err), 0, "%s", err.msg);
    struct lkb_cache_entry *e;
    cr_assert_eq(lkb_cache_list(c, &e, &n, &err), 0);
    cr_assert_eq(n, 2, "re-recording a name replaces it");
    cr_expect_str_eq(e[0].ref, "docker.io/library/b");
    cr_expect_str_eq(e[1].ref, "docker.io/library/a:1");
    cr_expect_eq(e[1].size, 6, "the newest descriptor is appended at the end");
    lkb_cache_entries_free(e, n);
    cr_assert_eq(lkb_fs_read_file(p, &text, &n, &err), 0);
    cr_expect(strstr(text, "\n   \"schemaVersion\": 2"), "3-space indent: %s", text);
    free(text);

    cr_expect_eq(lkb_cache_remove(c, "b", &err), 0, "%s", err.msg);
    cr_expect_eq(lkb_cache_remove(c, "b", &err), -1);
    cr_expect(strstr(err.msg, "not in the cache"), "%s", err.msg);
    cr_assert_eq(lkb_cache_list(c, &e, &n, &err), 0);
    cr_expect_eq(n, 1);
    lkb_cache_entries_free(e, n);
    for (int i = 0; i < 3; i++)
        json_decref(descs[i]);
    json_decref(plat);
    lkb_cache_close(c);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
    free(sub);
    free(p);
    free(ingest);
}

/* A pull's blobs settle as a batch: verified at once (a wrong one is
 * refused then, its temporary file gone), stored only by the commit (an
 * aborted batch leaves no blob and no temporary file). */
Test(oci_cache, ingest_batch)
{
    struct lkb_error err;
    char *dir, *sub, *ingest;
    cr_assert_eq(lkb_fs_make_temp_dir("lkb-test-batch", &dir, &err), 0);
    cr_assert(asprintf(&sub, "%s/cache", dir) > 0);
    cr_assert(asprintf(&ingest, "%s/ingest", sub) > 0);
    struct lkb_cache *c = lkb_cache_open(sub, &err);
    cr_assert(c, "%s", err.msg);
    char d1[LKB_DIGEST_MAX], d2[LKB_DIGEST_MAX];
    cr_assert_eq(lkb_digest_bytes("one", 3, d1, &err), 0);
    cr_assert_eq(lkb_digest_bytes("two", 3, d2, &err), 0);

    struct oci_ingest_batch b = {0};
    cr_assert_eq(oci_blob_put(c, d1, "one", 3, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(oci_blob_put(c, d2, "owt", 3, &b, &err), -1);
    cr_expect(strstr(err.msg, "digest mismatch"), "%s", err.msg);
    cr_assert_eq(oci_blob_put(c, d2, "two", 3, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(b.n, 2);
    cr_expect_not(oci_blob_present(c, d1, 3), "stored before the commit");
    cr_expect_eq(dir_count(ingest), 2);
    cr_assert_eq(oci_ingest_batch_commit(c, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(b.n, 0);
    cr_expect(oci_blob_present(c, d1, 3));
    cr_expect(oci_blob_present(c, d2, 3));
    cr_expect_eq(lkb_cache_blob_verify(c, d2, 3, &err), 0, "%s", err.msg);
    cr_expect_eq(dir_count(ingest), 0);

    char d3[LKB_DIGEST_MAX];
    cr_assert_eq(lkb_digest_bytes("three", 5, d3, &err), 0);
    cr_assert_eq(oci_blob_put(c, d3, "three", 5, &b, &err), 0, "%s", err.msg);
    oci_ingest_batch_abort(&b);
    cr_expect_not(oci_blob_present(c, d3, 5));
    cr_expect_eq(dir_count(ingest), 0);

    lkb_cache_close(c);
    lkb_fs_remove_tree(dir, &err);
    free(dir);
    free(sub);
    free(ingest);
}

Test(oci_cache, default_dir)
{
    char *d;
    struct lkb_error err;
    setenv("LKB_CACHE", "/x/lkb", 1);
    cr_assert_eq(lkb_cache_default_dir(&d, &err), 0);
    cr_expect_str_eq(d, "/x/lkb");
    free(d);
    unsetenv("LKB_CACHE");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    cr_assert_eq(lkb_cache_default_dir(&d, &err), 0);
    cr_expect_str_eq(d, "/xdg/lkb");
    free(d);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    cr_assert_eq(lkb_cache_default_dir(&d, &err), 0);
    cr_expect_str_eq(d, "/home/u/.cache/lkb");
    free(d);
}
