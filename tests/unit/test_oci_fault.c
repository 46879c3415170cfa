/* Retries and integrity against tests/tools/faultproxy.py in front of the
 * real loopback registry: 5xx, dropped connections, truncated, short and
 * corrupted bodies. A bad blob must never enter the cache. */
#define _GNU_SOURCE /* asprintf */
#include "oci_testlib.h"
#include "oci/registry.h" /* oci_backoff_ms */

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
    unsetenv("LKB_OFFLINE");
    F.reg = test_registry();
    F.dir = make_tmpdir("lkb-oci-fault");
    cr_assert(asprintf(&F.log, "%s/proxy.log", F.dir) > 0);
    char cache[4096];
    snprintf(cache, sizeof cache, "%s/cache", F.dir);
    F.cache = lkb_cache_open(cache, &F.err);
    cr_assert(F.cache, "%s", F.err.msg);
}

static void teardown(void)
{
    stop_proc(F.pid);
    lkb_cache_close(F.cache);
    lkb_fs_remove_tree(F.dir, &F.err);
    free(F.dir);
    free(F.reg);
    free(F.log);
}

TestSuite(oci_fault, .init = setup, .fini = teardown, .timeout = 120);

static void proxy(const char *faults)
{
    char args[8192];
    snprintf(args, sizeof args, "--upstream %s --log %s %s", F.reg, F.log, faults);
    F.pid = start_proxy(F.dir, args, F.proxy, sizeof F.proxy);
}

static char *via_proxy(const char *repo_tag)
{
    char *r;
    cr_assert(asprintf(&r, "%s/%s", F.proxy, repo_tag) > 0);
    return r;
}

static const char *image_blobs(json_t *info, const char *arch, int i)
{
    return i == 0 ? plat_str(info, arch, "config") : plat_layer(info, arch, (size_t)i - 1);
}

static void assert_cache_clean_and_valid(void)
{
    char ingest[4096];
    snprintf(ingest, sizeof ingest, "%s/ingest", lkb_cache_dir(F.cache));
    cr_expect_eq(dir_entries(ingest), 0, "no temp files left behind");
    char blobs[4096], cmd[8192];
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", lkb_cache_dir(F.cache));
    /* every file in blobs/ hashes to its name */
    snprintf(cmd, sizeof cmd,
             "cd %s && for f in *; do [ -e \"$f\" ] || continue; "
             "[ \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" = \"$f\" ] || echo BAD $f; done",
             blobs);
    char *out = run_capture(cmd);
    cr_expect_str_empty(out, "corrupt blobs in the cache: %s", out);
    free(out);
}

Test(oci_fault, transient_faults_are_retried)
{
    json_t *info = push_image(F.reg, "lkb-oci/fault-a:1", "amd64", "--big 300000");
    proxy("--faults 500,drop,truncate");
    char *ref = via_proxy("lkb-oci/fault-a:1");
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    for (int i = 0; i < 3; i++) {
        const char *d = image_blobs(info, "amd64", i);
        cr_expect_eq(count_lines(F.log, "GET /v2/lkb-oci/fault-a/blobs/", d), 4,
                     "blob %s: 3 faulty attempts + 1 good", d);
        cr_expect(cache_has_blob(lkb_cache_dir(F.cache), d));
    }
    assert_cache_clean_and_valid();
    json_decref(info);
    free(ref);
}

Test(oci_fault, wrong_bytes_are_retried)
{
    json_t *info = push_image(F.reg, "lkb-oci/fault-b:1", "amd64,arm64", "--big 100000");
    proxy("--faults corrupt,short,503");
    char *ref = via_proxy("lkb-oci/fault-b:1");
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(count_lines(F.log, "GET /v2/lkb-oci/fault-b/blobs/",
                                 image_blobs(info, "arm64", i)),
                     4);
    /* only the requested platform went through the proxy */
    cr_expect_eq(count_lines(F.log, "GET /v2/lkb-oci/fault-b/blobs/", plat_layer(info, "amd64", 0)),
                 0);
    assert_cache_clean_and_valid();
    json_decref(info);
    free(ref);
}

Test(oci_fault, bad_blob_never_enters_the_cache)
{
    json_t *info = push_image(F.reg, "lkb-oci/fault-c:1", "amd64", "--big 50000");
    proxy("--always corrupt");
    char *ref = via_proxy("lkb-oci/fault-c:1");
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect_eq(F.err.kind, LKB_ERR_FETCH);
    cr_expect(strstr(F.err.msg, ref), "error names the image: %s", F.err.msg);
    cr_expect(strstr(F.err.msg, "sha256:"), "error names the digest: %s", F.err.msg);
    cr_expect(strstr(F.err.msg, "after 4 attempts"), "%s", F.err.msg);
    for (int i = 0; i < 3; i++)
        cr_expect_not(cache_has_blob(lkb_cache_dir(F.cache), image_blobs(info, "amd64", i)));
    cr_expect_not(cache_has_blob(lkb_cache_dir(F.cache), plat_str(info, "amd64", "manifest")),
                  "manifest is stored only after its blobs");
    struct lkb_cache_entry *e;
    size_t n;
    cr_assert_eq(lkb_cache_list(F.cache, &e, &n, &F.err), 0);
    cr_expect_eq(n, 0, "nothing recorded in index.json");
    lkb_cache_entries_free(e, n);
    assert_cache_clean_and_valid();
    json_decref(info);
    free(ref);
}

Test(oci_fault, attempts_are_bounded_and_404_is_final)
{
    json_t *info = push_image(F.reg, "lkb-oci/fault-d:1", "amd64", NULL);
    proxy("--faults 500,500,500");
    char *ref = via_proxy("lkb-oci/fault-d:1");
    struct lkb_pull_opts o = fast_opts();
    o.max_attempts = 2;
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "after 2 attempts") && strstr(F.err.msg, "HTTP 500"), "%s",
              F.err.msg);
    stop_proc(F.pid);
    unlink(F.log);
    proxy("--always 404");
    free(ref);
    ref = via_proxy("lkb-oci/fault-d:1");
    o.max_attempts = 4;
    o.parallel = 1; /* one blob at a time: the first 404 ends the pull */
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "HTTP 404"), "%s", F.err.msg);
    size_t gets = count_lines(F.log, "GET /v2/lkb-oci/fault-d/blobs/", NULL);
    cr_expect_eq(gets, 1, "404 is final: exactly one GET, got %zu", gets);
    assert_cache_clean_and_valid();
    json_decref(info);
    free(ref);
}

/* The documented schedule: 500 ms, doubled per failed attempt, capped at
 * 8 s (the cap is out of reach of the default 4 attempts). */
Test(oci_backoff, doubles_from_500ms_and_caps_at_8s)
{
    struct lkb_error err;
    struct oci_client *c = oci_client_new(NULL, &err);
    cr_assert(c, "%s", err.msg);
    const long want[] = {500, 1000, 2000, 4000, 8000, 8000, 8000};
    for (int a = 1; a <= 7; a++)
        cr_expect_eq(oci_backoff_ms(c, a), want[a - 1], "after attempt %d", a);
    oci_client_free(c);
}
