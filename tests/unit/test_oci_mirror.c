/* Mirror specs and lookup (LinuxKit's -mirror / LINUXKIT_MIRROR semantics),
 * the repository rewrite onto a mirror, -cert-file checks and the CA
 * bundle that keeps the system roots: no network. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/mirror.h"
#include "oci/oci.h"
#include "oci/registry.h"
#include "util/fs.h"

static void reset(void)
{
    unsetenv("LINUXKIT_MIRROR");
    lkb_oci_mirrors_reset();
    lkb_oci_cert_files_reset();
}

TestSuite(mirror, .init = reset, .fini = reset);

static struct lkb_error err;

static const char *url_for(const char *registry)
{
    struct oci_mirror *m = oci_mirror_for(registry);
    return m ? m->url : NULL;
}

Test(mirror, keyed_and_bare)
{
    cr_assert_eq(lkb_oci_mirror_add("ghcr.io=https://m.example/ghcr", &err), 0, "%s", err.msg);
    cr_expect_null(url_for("registry-1.docker.io"));
    cr_assert_eq(lkb_oci_mirror_add("http://any.example:5000", &err), 0, "%s", err.msg);
    cr_expect_str_eq(url_for("ghcr.io"), "https://m.example/ghcr");
    cr_expect_str_eq(url_for("quay.io"), "http://any.example:5000");
    struct oci_mirror *m = oci_mirror_for("ghcr.io");
    cr_expect_str_eq(m->scheme, "https");
    cr_expect_str_eq(m->host, "m.example");
    cr_expect_str_eq(m->prefix, "ghcr");
}

Test(mirror, docker_hub_names_are_one_key)
{
    for (int i = 0; i < 3; i++) {
        const char *key[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
        lkb_oci_mirrors_reset();
        char spec[100];
        snprintf(spec, sizeof spec, "%s=http://hub.mirror:5000", key[i]);
        cr_assert_eq(lkb_oci_mirror_add(spec, &err), 0, "%s", err.msg);
        cr_expect_str_eq(url_for("registry-1.docker.io"), "http://hub.mirror:5000", "%s", key[i]);
        cr_expect_str_eq(url_for("index.docker.io"), "http://hub.mirror:5000", "%s", key[i]);
        cr_expect_null(url_for("ghcr.io"));
    }
}

Test(mirror, later_flag_replaces_and_flags_beat_env)
{
    setenv("LINUXKIT_MIRROR", "docker.io=http://env.one, ghcr.io=http://env.two http://env.any",
           1);
    cr_assert_eq(lkb_oci_mirrors_load_env(&err), 0, "%s", err.msg);
    cr_assert_eq(lkb_oci_mirror_add("docker.io=http://flag.one", &err), 0, "%s", err.msg);
    cr_assert_eq(lkb_oci_mirror_add("docker.io=http://flag.two", &err), 0, "%s", err.msg);
    cr_expect_str_eq(url_for("registry-1.docker.io"), "http://flag.two");
    cr_expect_str_eq(url_for("ghcr.io"), "http://env.two");
    cr_expect_str_eq(url_for("quay.io"), "http://env.any");
    /* The environment read after the flags (lazily) still loses. */
    lkb_oci_mirrors_reset();
    cr_assert_eq(lkb_oci_mirror_add("docker.io=http://flag.one", &err), 0, "%s", err.msg);
    cr_expect_str_eq(url_for("registry-1.docker.io"), "http://flag.one");
    cr_expect_str_eq(url_for("ghcr.io"), "http://env.two");
}

Test(mirror, bad_specs)
{
    const char *bad[] = {"ftp://x",         "x.example",      "docker.io=",
                         "=http://x",       "a/b=http://x",   "docker.io=mirror:5000",
                         "http://",         "https:///path",  "http://us er@host"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lkb_error_clear(&err);
        cr_expect_eq(lkb_oci_mirror_add(bad[i], &err), -1, "%s accepted", bad[i]);
        cr_expect_eq(err.kind, LKB_ERR_USAGE, "%s", bad[i]);
    }
    setenv("LINUXKIT_MIRROR", "docker.io=nourl", 1);
    cr_expect_eq(lkb_oci_mirrors_load_env(&err), -1);
    cr_expect(strstr(err.msg, "LINUXKIT_MIRROR") != NULL, "%s", err.msg);
}

Test(mirror, repository_rewrite)
{
    cr_assert_eq(lkb_oci_mirror_add("docker.io=https://m.example:8443/hub/", &err), 0, "%s",
                 err.msg);
    struct lkb_oci_ref ref;
    cr_assert_eq(lkb_oci_ref_parse("alpine:3.19", &ref, &err), 0, "%s", err.msg);
    struct oci_source src;
    cr_assert_eq(oci_source_init(&src, &ref, &err), 0, "%s", err.msg);
    cr_assert_eq(src.n, 2);
    cr_expect_str_eq(src.ep[0].repo, "hub/library/alpine");
    cr_expect_str_eq(src.ep[0].mirror->host, "m.example:8443");
    cr_expect_null(src.ep[1].mirror);
    cr_expect_str_eq(src.ep[1].repo, "library/alpine");
    cr_expect_str_eq(src.origin_host, "registry-1.docker.io");
    /* The fallback moves to the origin once and then has nowhere to go. */
    int cur = 0;
    cr_expect(oci_source_fallback(&src, &cur, "blob x", "HTTP 500"));
    cr_expect_eq(cur, 1);
    cr_expect_not(oci_source_fallback(&src, &cur, "blob x", "HTTP 500"));
    oci_source_free(&src);
    lkb_oci_ref_free(&ref);
    /* No mirror for this registry: the origin only. */
    cr_assert_eq(lkb_oci_ref_parse("ghcr.io/a/b:1", &ref, &err), 0, "%s", err.msg);
    cr_assert_eq(oci_source_init(&src, &ref, &err), 0, "%s", err.msg);
    cr_expect_eq(src.n, 1);
    cr_expect_str_eq(src.ep[0].repo, "a/b");
    oci_source_free(&src);
    lkb_oci_ref_free(&ref);
}

Test(mirror, cert_files_and_bundle)
{
    char *pem = NULL;
    size_t len = 0;
    cr_assert_eq(oci_ca_bundle(NULL, &pem, &len, &err), 0);
    cr_expect_null(pem, "no extra certificates: libcurl's defaults stay untouched");
    char dir[] = "/tmp/lkb-mirror-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cert[256], key[256], cmd[1024], notpem[256];
    snprintf(cert, sizeof cert, "%s/ca.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(notpem, sizeof notpem, "%s/not.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=lkb-unit "
             "-keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(lkb_fs_write_atomic(notpem, "hello\n", 6, 0644, &err), 0, "%s", err.msg);
    cr_expect_eq(lkb_oci_cert_file_add(notpem, &err), -1);
    cr_expect_eq(err.kind, LKB_ERR_USAGE);
    cr_expect_eq(lkb_oci_cert_file_add(key, &err), -1, "a private key is not a certificate");
    cr_expect_eq(lkb_oci_cert_file_add("/nonexistent/ca.pem", &err), -1);
    cr_expect_eq(err.kind, LKB_ERR_USAGE);
    cr_assert_eq(lkb_oci_cert_file_add(cert, &err), 0, "%s", err.msg);
    cr_assert_eq(oci_ca_bundle(NULL, &pem, &len, &err), 0, "%s", err.msg);
    char *mine;
    size_t mlen;
    cr_assert_eq(lkb_fs_read_file(cert, &mine, &mlen, &err), 0);
    cr_expect(len > mlen && memcmp(pem, mine, mlen) == 0, "the bundle starts with the file");
    /* The system roots follow (Debian's bundle has well over 100). */
    size_t n = 0;
    for (const char *p = pem; (p = strstr(p, "BEGIN CERTIFICATE")); p++)
        n++;
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
        cr_expect_gt(n, 100, "system roots missing from the bundle (%zu certificates)", n);
    free(mine);
    free(pem);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
