/* Registry authentication for real: Docker token (Bearer) flow through
 * tests/tools/faultproxy.py --token, and Basic auth over TLS with a
 * self-signed CA against docker-registry (tests/tools/oci-auth-registry.sh). */
#define _GNU_SOURCE /* asprintf */
#include "oci_testlib.h"

struct fixture {
    char *reg, *dir, *log;
    char proxy[64];
    pid_t pid;
    struct lkb_cache *cache;
    struct lkb_error err;
};
static struct fixture F;

static void setup(void)
{
    memset(&F, 0, sizeof F);
    unsetenv("LKB_REGISTRY_AUTH");
    unsetenv("LKB_CA_FILE");
    F.reg = test_registry();
    F.dir = make_tmpdir("lkb-oci-auth");
    setenv("DOCKER_CONFIG", F.dir, 1); /* never the user's real config */
    cr_assert(asprintf(&F.log, "%s/proxy.log", F.dir) > 0);
    char cache[4096];
    snprintf(cache, sizeof cache, "%s/cache", F.dir);
    F.cache = lkb_cache_open(cache, &F.err);
    cr_assert(F.cache, "%s", F.err.msg);
}

static void teardown(void)
{
    stop_proc(F.pid);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "bash %s/tests/tools/oci-auth-registry.sh stop %s/authreg",
             LKB_TEST_SOURCE_DIR, F.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "stopping the auth registry failed\n");
    lkb_cache_close(F.cache);
    lkb_fs_remove_tree(F.dir, &F.err);
    free(F.dir);
    free(F.reg);
    free(F.log);
}

TestSuite(oci_auth_registry, .init = setup, .fini = teardown, .timeout = 120);

Test(oci_auth_registry, bearer_token_flow)
{
    json_t *info = push_image(F.reg, "lkb-oci/auth-a:1", "amd64", NULL);
    char args[8192];
    snprintf(args, sizeof args, "--upstream %s --log %s --token tokuser:tokpass", F.reg, F.log);
    F.pid = start_proxy(F.dir, args, F.proxy, sizeof F.proxy);
    char *ref;
    cr_assert(asprintf(&ref, "%s/lkb-oci/auth-a:1", F.proxy) > 0);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;

    /* No credentials: the token server refuses, the error says so. */
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "authentication") && strstr(F.err.msg, "no credentials"), "%s",
              F.err.msg);
    /* Wrong password. */
    char *auth;
    cr_assert(asprintf(&auth, "%s=tokuser:wrong", F.proxy) > 0);
    setenv("LKB_REGISTRY_AUTH", auth, 1);
    free(auth);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "credentials refused"), "%s", F.err.msg);
    /* Right password through LKB_REGISTRY_AUTH. */
    cr_assert(asprintf(&auth, "%s=tokuser:tokpass", F.proxy) > 0);
    setenv("LKB_REGISTRY_AUTH", auth, 1);
    free(auth);
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "amd64", "manifest"));
    lkb_image_free(im);
    cr_expect_geq(count_lines(F.log, "GET /token 200", "scope=repository:lkb-oci/auth-a:pull"), 1);
    cr_expect_geq(count_lines(F.log, "service=lkb-test", NULL), 1);
    cr_expect_geq(count_lines(F.log, "/blobs/sha256:", " 200 ok"), 3,
                  "blobs fetched with the token");
    unsetenv("LKB_REGISTRY_AUTH");

    /* Same through ~/.docker/config.json "auths" (base64 user:password). */
    char *cfg, *b64 = run_capture("printf tokuser:tokpass | base64 | tr -d '\\n'");
    cr_assert(asprintf(&cfg, "{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", F.proxy, b64) > 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", F.dir);
    cr_assert_eq(lkb_fs_write_atomic(path, cfg, strlen(cfg), 0600, &F.err), 0);
    struct lkb_cache *c2;
    char d2[4096];
    snprintf(d2, sizeof d2, "%s/cache2", F.dir);
    cr_assert(c2 = lkb_cache_open(d2, &F.err));
    cr_assert_eq(lkb_oci_pull(c2, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    lkb_cache_close(c2);
    free(cfg);
    free(b64);
    json_decref(info);
    free(ref);
}

Test(oci_auth_registry, anonymous_token)
{
    json_decref(push_image(F.reg, "lkb-oci/auth-b:1", "arm64", NULL));
    char args[8192];
    snprintf(args, sizeof args, "--upstream %s --log %s --token -", F.reg, F.log);
    F.pid = start_proxy(F.dir, args, F.proxy, sizeof F.proxy);
    char *ref;
    cr_assert(asprintf(&ref, "%s/lkb-oci/auth-b:1", F.proxy) > 0);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    cr_expect_geq(count_lines(F.log, "GET /token 200", NULL), 1);
    free(ref);
}

static void start_auth_registry(char **host, char **user, char **pass, char **ca)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "bash %s/tests/tools/oci-auth-registry.sh start %s/authreg >&2",
             LKB_TEST_SOURCE_DIR, F.dir);
    free(run_capture(cmd));
    char envf[4096];
    snprintf(envf, sizeof envf, "%s/authreg/auth.env", F.dir);
    char *keys[4] = {"LKB_TEST_AUTH_REGISTRY", "LKB_TEST_AUTH_USER", "LKB_TEST_AUTH_PASS",
                     "LKB_TEST_AUTH_CA"};
    char **outs[4] = {host, user, pass, ca};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, ". %s && printf %%s \"$%s\"", envf, keys[i]);
        *outs[i] = run_capture(cmd);
    }
}

Test(oci_auth_registry, basic_auth_over_tls)
{
    char *host, *user, *pass, *ca;
    start_auth_registry(&host, &user, &pass, &ca);
    char extra[8192], *up;
    cr_assert(asprintf(&up, "%s:%s", user, pass) > 0);
    snprintf(extra, sizeof extra, "--user '%s' --cafile %s", up, ca);
    json_t *info = push_image(host, "lkb-oci/tls:1", "amd64,arm64", extra);
    char *ref;
    cr_assert(asprintf(&ref, "%s/lkb-oci/tls:1", host) > 0);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;

    /* Credentials but no CA: TLS verification fails (never skipped). */
    char *auth;
    cr_assert(asprintf(&auth, "%s=%s", host, up) > 0);
    setenv("LKB_REGISTRY_AUTH", auth, 1);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "certificate") || strstr(F.err.msg, "SSL"), "%s", F.err.msg);

    /* CA, wrong password. */
    o.ca_file = ca;
    char *bad;
    cr_assert(asprintf(&bad, "%s=%s:nope", host, user) > 0);
    setenv("LKB_REGISTRY_AUTH", bad, 1);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "401"), "%s", F.err.msg);

    /* CA (via LKB_CA_FILE) and the right password (password contains ':'). */
    o.ca_file = NULL;
    setenv("LKB_CA_FILE", ca, 1);
    setenv("LKB_REGISTRY_AUTH", auth, 1);
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "arm64", "manifest"));
    lkb_image_free(im);
    cr_expect_not(cache_has_blob(lkb_cache_dir(F.cache), plat_layer(info, "amd64", 0)));
    unsetenv("LKB_CA_FILE");
    unsetenv("LKB_REGISTRY_AUTH");
    free(auth);
    free(bad);
    free(up);
    free(ref);
    free(host);
    free(user);
    free(pass);
    free(ca);
    json_decref(info);
}
