/* Pulling from the real loopback registry ($LKB_TEST_STATE/registry.env)
 * into a fresh cache: single and multi-arch images, only the requested
 * platform fetched, reading files, offline mode, corruption detection and
 * re-fetch, concurrent pulls, clean, import/export. */
#define _GNU_SOURCE /* asprintf */
#include "oci_testlib.h"
#include "util/stamp.h"

#include <archive.h>
#include <fcntl.h>

struct fixture {
    char *reg, *dir;
    struct lkb_cache *cache;
    struct lkb_error err;
};
static struct fixture F;

static void setup(void)
{
    memset(&F, 0, sizeof F);
    unsetenv("LKB_OFFLINE");
    F.reg = test_registry();
    F.dir = make_tmpdir("lkb-oci-pull");
    F.cache = lkb_cache_open(F.dir, &F.err);
    cr_assert(F.cache, "%s", F.err.msg);
}

static void teardown(void)
{
    lkb_cache_close(F.cache);
    lkb_fs_remove_tree(F.dir, &F.err);
    free(F.dir);
    free(F.reg);
}

TestSuite(oci_pull, .init = setup, .fini = teardown, .timeout = 120);

static char *ref_of(const char *repo_tag)
{
    char *r;
    cr_assert(asprintf(&r, "%s/%s", F.reg, repo_tag) > 0);
    return r;
}

/* Pull ref for arch into the cache; the image itself is not wanted. */
static void pull_into_cache(const char *ref, const char *arch)
{
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, arch, &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
}

static json_t *index_json(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/index.json", F.dir);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    cr_assert(j, "index.json invalid: %s", je.text);
    return j;
}

Test(oci_pull, single_arch)
{
    char *ref = ref_of("lkb-oci/single:1");
    json_t *info = push_image(F.reg, "lkb-oci/single:1", "amd64", NULL);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->ref, ref);
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "amd64", "manifest"));
    cr_expect_str_eq(im->root_digest, im->manifest_digest);
    cr_expect_str_eq(im->config_digest, plat_str(info, "amd64", "config"));
    cr_assert_eq(im->n_layers, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_expect_str_eq(im->layers[i].digest, plat_layer(info, "amd64", i));
        cr_expect(cache_has_blob(F.dir, im->layers[i].digest));
        cr_expect_eq(access(im->layers[i].path, R_OK), 0);
    }
    json_t *cfg = json_object_get(im->config, "config");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(cfg, "Env"), 0)),
                     "ARCH=amd64");
    lkb_image_free(im);

    /* index.json: canonical name annotation and the platform. */
    json_t *idx = index_json();
    json_t *d = json_array_get(json_object_get(idx, "manifests"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(
                         json_object_get(d, "annotations"), "org.opencontainers.image.ref.name")),
                     ref);
    cr_expect_str_eq(json_string_value(json_object_get(d, "digest")),
                     plat_str(info, "amd64", "manifest"));
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(d, "platform"),
                                                       "architecture")),
                     "amd64");
    json_decref(idx);

    /* A single-manifest root is used whatever the arch (spec §15.2 quirk). */
    cr_assert_eq(lkb_oci_image_open(F.cache, ref, "arm64", &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    json_decref(info);
    free(ref);
}

Test(oci_pull, multi_arch_fetches_only_the_platform)
{
    char *ref = ref_of("lkb-oci/multi:1");
    json_t *info = push_image(F.reg, "lkb-oci/multi:1", "amd64,arm64", NULL);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->root_digest, json_string_value(json_object_get(info, "root")));
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "arm64", "manifest"));
    cr_expect_str_eq(json_string_value(json_object_get(im->config, "architecture")), "arm64");
    lkb_image_free(im);
    cr_expect(cache_has_blob(F.dir, json_string_value(json_object_get(info, "root"))));
    cr_expect(cache_has_blob(F.dir, plat_str(info, "arm64", "manifest")));
    cr_expect(cache_has_blob(F.dir, plat_str(info, "arm64", "config")));
    for (size_t i = 0; i < 2; i++) {
        cr_expect(cache_has_blob(F.dir, plat_layer(info, "arm64", i)));
        cr_expect_not(cache_has_blob(F.dir, plat_layer(info, "amd64", i)),
                      "amd64 layer %zu must not be fetched", i);
    }
    cr_expect_not(cache_has_blob(F.dir, plat_str(info, "amd64", "manifest")));
    cr_expect_not(cache_has_blob(F.dir, plat_str(info, "amd64", "config")));

    /* The other platform is not usable offline, but pulls on demand. */
    o.offline = true;
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "offline") && strstr(F.err.msg, ref), "%s", F.err.msg);
    o.offline = false;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "amd64", "manifest"));
    lkb_image_free(im);
    /* Both remain usable and the index lists the reference once. */
    cr_assert_eq(lkb_oci_image_open(F.cache, ref, "arm64", &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    json_t *idx = index_json();
    cr_expect_eq(json_array_size(json_object_get(idx, "manifests")), 1);
    json_decref(idx);

    /* A platform the index lacks. */
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "riscv64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "does not contain target platforms linux/riscv64"), "%s",
              F.err.msg);
    json_decref(info);
    free(ref);
}

Test(oci_pull, by_digest_and_errors)
{
    json_t *info = push_image(F.reg, "lkb-oci/bydigest:1", "amd64,arm64", NULL);
    char *ref;
    cr_assert(asprintf(&ref, "%s/lkb-oci/bydigest@%s", F.reg,
                       json_string_value(json_object_get(info, "root"))) > 0);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->ref, ref);
    lkb_image_free(im);
    free(ref);

    /* Unknown tag and unknown repository: clear error naming the image. */
    ref = ref_of("lkb-oci/bydigest:nope");
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "error getting manifest for image") && strstr(F.err.msg, ref),
              "%s", F.err.msg);
    cr_expect_eq(F.err.kind, LKB_ERR_FETCH);
    free(ref);
    /* A digest the registry does not have. */
    cr_assert(asprintf(&ref, "%s/lkb-oci/bydigest@sha256:%064d", F.reg, 0) > 0);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    free(ref);
    json_decref(info);
}

Test(oci_pull, read_file_flattens)
{
    char *ref = ref_of("lkb-oci/files:1");
    json_t *info = push_image(F.reg, "lkb-oci/files:1", "amd64,arm64", NULL);
    pull_into_cache(ref, "arm64");
    static const struct {
        const char *path, *want; /* NULL: absent */
    } cases[] = {
        {"/etc/arch", "arm64\n"},
        {"etc/hostname", "top-arm64\n"}, /* upper layer wins */
        {"./etc//hostname", "top-arm64\n"},
        {"/etc/remove-me", NULL},        /* whiteout */
        {"/opq/lower", NULL},            /* opaque directory hides lower files */
        {"/opq/upper", "upper\n"},
        {"/lnk", "arm64\n"},             /* symlink followed */
        {"/dirlink/hostname", "top-arm64\n"}, /* symlinked directory */
        {"/hl", "arm64\n"},              /* hard link */
        {"/no/such/file", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        void *data;
        size_t len;
        int rc = lkb_oci_image_read_file(F.cache, ref, "arm64", cases[i].path, &data, &len,
                                         &F.err);
        if (cases[i].want) {
            cr_expect_eq(rc, 0, "%s: rc %d %s", cases[i].path, rc, rc < 0 ? F.err.msg : "");
            if (rc == 0)
                cr_expect_str_eq((char *)data, cases[i].want, "%s", cases[i].path);
        } else {
            cr_expect_eq(rc, 1, "%s should be absent (rc %d %s)", cases[i].path, rc,
                         rc < 0 ? F.err.msg : "");
        }
        if (rc == 0)
            free(data);
    }
    void *data;
    size_t len;
    cr_expect_eq(lkb_oci_image_read_file(F.cache, ref, "arm64", "/etc", &data, &len, &F.err),
                 -1, "a directory is not a file");
    cr_assert_eq(lkb_oci_image_read_file(F.cache, ref, "arm64", "/data/big", &data, &len,
                                         &F.err),
                 0, "%s", F.err.msg);
    cr_expect_eq(len, 200000);
    free(data);
    json_decref(info);
    free(ref);
}

Test(oci_pull, offline_mode)
{
    char *ref = ref_of("lkb-oci/offline:1");
    json_t *info = push_image(F.reg, "lkb-oci/offline:1", "amd64", NULL);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    setenv("LKB_OFFLINE", "1", 1);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, "offline mode") && strstr(F.err.msg, "not in the cache"), "%s",
              F.err.msg);
    unsetenv("LKB_OFFLINE");
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    /* Offline now works, even with a registry that does not exist. */
    o.offline = true;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    /* A missing layer is named. */
    char *p = blob_file(F.dir, plat_layer(info, "amd64", 1));
    unlink(p);
    free(p);
    cr_expect_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), -1);
    cr_expect(strstr(F.err.msg, plat_layer(info, "amd64", 1)), "%s", F.err.msg);
    json_decref(info);
    free(ref);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0xff;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

Test(oci_pull, corrupt_blobs_detected_and_refetched)
{
    char *ref = ref_of("lkb-oci/corrupt:1");
    json_t *info = push_image(F.reg, "lkb-oci/corrupt:1", "amd64", NULL);
    pull_into_cache(ref, "amd64");
    char *l0 = blob_file(F.dir, plat_layer(info, "amd64", 0));
    char *l1 = blob_file(F.dir, plat_layer(info, "amd64", 1));
    char *cfg = blob_file(F.dir, plat_str(info, "amd64", "config"));

    /* Same size, wrong bytes: caught when a layer is opened, and removed. */
    flip_byte(l0, 100);
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_image_open(F.cache, ref, "amd64", &im, &F.err), 0, "%s", F.err.msg);
    struct archive *a;
    cr_expect_eq(lkb_oci_layer_open(im, 0, &a, &F.err), -1);
    cr_expect(strstr(F.err.msg, "corrupt") && strstr(F.err.msg, plat_layer(info, "amd64", 0)),
              "%s", F.err.msg);
    cr_expect_neq(access(l0, F_OK), 0, "corrupt blob removed");
    lkb_image_free(im);

    /* Truncated layer and corrupt config: the next pull fetches them again. */
    cr_assert_eq(truncate(l1, 10), 0);
    flip_byte(cfg, 5);
    pull_into_cache(ref, "amd64");
    const char *digests[3] = {plat_layer(info, "amd64", 0), plat_layer(info, "amd64", 1),
                              plat_str(info, "amd64", "config")};
    for (int i = 0; i < 3; i++)
        cr_expect_eq(lkb_cache_blob_verify(F.cache, digests[i], -1, &F.err), 0, "%s", F.err.msg);

    /* Same-size corruption is also found by a (non-forced) pull. */
    flip_byte(l1, 3);
    struct lkb_pull_opts o = fast_opts();
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_eq(lkb_oci_layer_open(im, 1, &a, &F.err), 0, "%s", F.err.msg);
    archive_read_free(a);
    lkb_image_free(im);
    cr_expect_eq(lkb_cache_blob_verify(F.cache, digests[1], -1, &F.err), 0, "%s", F.err.msg);
    free(l0);
    free(l1);
    free(cfg);
    json_decref(info);
    free(ref);
}

/* A blob hashed once carries a stat stamp (CACHE/verified/<hex>): later
 * pulls trust it while the file's stat is unchanged, so a corruption the
 * stamp cannot see (re-stamped here, as bit rot below the file system
 * would look) is used as is, and `lkb cache verify`, which hashes
 * everything, still finds and removes it. */
Test(oci_pull, stamps_spare_the_hash_and_verify_still_hashes)
{
    char *ref = ref_of("lkb-oci/stamp:1");
    json_t *info = push_image(F.reg, "lkb-oci/stamp:1", "amd64", NULL);
    pull_into_cache(ref, "amd64");
    const char *digest = plat_layer(info, "amd64", 0);
    char *blob = blob_file(F.dir, digest), *stamp = NULL;
    cr_assert(asprintf(&stamp, "%s/verified/%s", F.dir, digest + 7) > 0);
    cr_assert(lkb_stamp_matches(blob, stamp), "no stamp written on download");

    flip_byte(blob, 100);
    cr_assert(!lkb_stamp_matches(blob, stamp), "a write left the stamp matching");
    cr_assert_eq(lkb_stamp_write(blob, stamp, &F.err), 0, "%s", F.err.msg);
    pull_into_cache(ref, "amd64");
    cr_expect_eq(access(blob, F_OK), 0, "a stamped blob was hashed anyway");

    size_t checked, removed;
    cr_assert_eq(lkb_cache_verify(F.cache, &checked, &removed, &F.err), 0, "%s", F.err.msg);
    cr_expect_eq(removed, 1);
    cr_expect_neq(access(blob, F_OK), 0, "cache verify kept the corrupt blob");
    /* Cleaning the cache removes the stamps of the blobs it removes. */
    cr_assert_eq(lkb_cache_gc(F.cache, true, NULL, NULL, &F.err), 0, "%s", F.err.msg);
    cr_expect_neq(access(stamp, F_OK), 0, "a stamp outlived its blob");
    free(stamp);
    free(blob);
    json_decref(info);
    free(ref);
}

Test(oci_pull, pull_many_and_force)
{
    json_t *i1 = push_image(F.reg, "lkb-oci/many-a:1", "amd64,arm64", NULL);
    json_t *i2 = push_image(F.reg, "lkb-oci/many-b:1", "arm64", "--big 5000");
    char *r1 = ref_of("lkb-oci/many-a:1"), *r2 = ref_of("lkb-oci/many-b:1");
    struct lkb_pull_request reqs[3] = {{r1, "arm64", NULL}, {r2, "arm64", NULL},
                                       {r1, "amd64", NULL}};
    struct lkb_pull_opts o = fast_opts();
    o.parallel = 2;
    cr_assert_eq(lkb_oci_pull_many(F.cache, reqs, 3, &o, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(reqs[0].image->manifest_digest, plat_str(i1, "arm64", "manifest"));
    cr_expect_str_eq(reqs[1].image->manifest_digest, plat_str(i2, "arm64", "manifest"));
    cr_expect_str_eq(reqs[2].image->manifest_digest, plat_str(i1, "amd64", "manifest"));
    for (int i = 0; i < 3; i++)
        lkb_image_free(reqs[i].image);
    struct lkb_cache_entry *e;
    size_t n;
    cr_assert_eq(lkb_cache_list(F.cache, &e, &n, &F.err), 0);
    cr_expect_eq(n, 2);
    lkb_cache_entries_free(e, n);

    /* force: the registry is asked again even though everything is cached;
     * a re-pushed tag (new content) is picked up. */
    json_t *i3 = push_image(F.reg, "lkb-oci/many-a:1", "arm64", "--big 777");
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, r1, "arm64", &o, &im, &F.err), 0);
    cr_expect_str_eq(im->manifest_digest, plat_str(i1, "arm64", "manifest"), "cache used");
    lkb_image_free(im);
    o.force = true;
    cr_assert_eq(lkb_oci_pull(F.cache, r1, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->manifest_digest, plat_str(i3, "arm64", "manifest"), "registry asked");
    lkb_image_free(im);
    /* restore the tag for other tests */
    json_decref(push_image(F.reg, "lkb-oci/many-a:1", "amd64,arm64", NULL));
    json_decref(i1);
    json_decref(i2);
    json_decref(i3);
    free(r1);
    free(r2);
}

Test(oci_pull, concurrent_processes_share_a_cache)
{
    const char *names[4] = {"lkb-oci/conc-a:1", "lkb-oci/conc-b:1", "lkb-oci/conc-c:1",
                            "lkb-oci/conc-d:1"};
    json_t *infos[4];
    for (int i = 0; i < 4; i++)
        infos[i] = push_image(F.reg, names[i], "amd64,arm64", i % 2 ? "--big 300000" : NULL);
    lkb_cache_close(F.cache); /* children open their own: flock is per open file */
    F.cache = NULL;
    pid_t pids[4];
    for (int k = 0; k < 4; k++) {
        pids[k] = fork();
        cr_assert(pids[k] >= 0);
        if (pids[k] == 0) {
            struct lkb_error err;
            struct lkb_cache *c = lkb_cache_open(F.dir, &err);
            if (!c)
                _exit(2);
            struct lkb_pull_opts o = fast_opts();
            /* every child pulls all four, in a different order */
            for (int i = 0; i < 4; i++) {
                char *ref = ref_of(names[(i + k) % 4]);
                struct lkb_image *im;
                if (lkb_oci_pull(c, ref, k % 2 ? "arm64" : "amd64", &o, &im, &err) < 0) {
                    fprintf(stderr, "child %d: %s\n", k, err.msg);
                    _exit(1);
                }
                lkb_image_free(im);
                free(ref);
            }
            lkb_cache_close(c);
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st;
        cr_assert_eq(waitpid(pids[k], &st, 0), pids[k]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed", k);
    }
    F.cache = lkb_cache_open(F.dir, &F.err);
    cr_assert(F.cache);
    json_t *idx = index_json();
    cr_expect_eq(json_array_size(json_object_get(idx, "manifests")), 4,
                 "one entry per reference");
    json_decref(idx);
    for (int i = 0; i < 4; i++) {
        char *ref = ref_of(names[i]);
        for (int a = 0; a < 2; a++) {
            const char *arch = a ? "arm64" : "amd64";
            struct lkb_image *im;
            cr_assert_eq(lkb_oci_image_open(F.cache, ref, arch, &im, &F.err), 0, "%s",
                         F.err.msg);
            for (size_t l = 0; l < im->n_layers; l++)
                cr_expect_eq(lkb_cache_blob_verify(F.cache, im->layers[l].digest,
                                                   im->layers[l].size, &F.err),
                             0, "%s", F.err.msg);
            lkb_image_free(im);
        }
        free(ref);
        json_decref(infos[i]);
    }
    char ingest[4096];
    snprintf(ingest, sizeof ingest, "%s/ingest", F.dir);
    cr_expect_eq(dir_entries(ingest), 0, "no temp files left");
}

Test(oci_pull, remove_and_clean)
{
    json_t *i1 = push_image(F.reg, "lkb-oci/gc-a:1", "amd64", NULL);
    json_t *i2 = push_image(F.reg, "lkb-oci/gc-b:1", "amd64", "--big 1234");
    char *r1 = ref_of("lkb-oci/gc-a:1"), *r2 = ref_of("lkb-oci/gc-b:1");
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, r1, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    cr_assert_eq(lkb_oci_pull(F.cache, r2, "amd64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    /* a stale ingest file from a crashed run */
    char stale[4096];
    snprintf(stale, sizeof stale, "%s/ingest/blob-stale", F.dir);
    cr_assert_eq(lkb_fs_write_atomic(stale, "x", 1, 0644, &F.err), 0);
    cr_assert_eq(lkb_cache_remove(F.cache, r2, &F.err), 0, "%s", F.err.msg);
    size_t blobs;
    uint64_t bytes;
    cr_assert_eq(lkb_cache_gc(F.cache, false, &blobs, &bytes, &F.err), 0, "%s", F.err.msg);
    cr_expect_geq(blobs, 2, "gc-b's own layer + manifest + config (layer 2 may be shared)");
    cr_expect_not(cache_has_blob(F.dir, plat_str(i2, "amd64", "manifest")));
    cr_expect_not(cache_has_blob(F.dir, plat_layer(i2, "amd64", 0)));
    cr_expect_neq(access(stale, F_OK), 0);
    cr_assert_eq(lkb_oci_image_open(F.cache, r1, "amd64", &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    cr_assert_eq(lkb_cache_gc(F.cache, true, &blobs, &bytes, &F.err), 0, "%s", F.err.msg);
    cr_expect_geq(blobs, 4);
    char blobdir[4096];
    snprintf(blobdir, sizeof blobdir, "%s/blobs/sha256", F.dir);
    cr_expect_eq(dir_entries(blobdir), 0);
    cr_expect_eq(lkb_oci_image_open(F.cache, r1, "amd64", &im, &F.err), -1);
    json_decref(i1);
    json_decref(i2);
    free(r1);
    free(r2);
}

Test(oci_pull, export_import_round_trip)
{
    char *ref = ref_of("lkb-oci/export:1");
    json_t *info = push_image(F.reg, "lkb-oci/export:1", "amd64,arm64", NULL);
    struct lkb_pull_opts o = fast_opts();
    struct lkb_image *im;
    cr_assert_eq(lkb_oci_pull(F.cache, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);
    char tar[4096];
    snprintf(tar, sizeof tar, "%s/export.tar", F.dir);
    cr_assert_eq(lkb_cache_export(F.cache, ref, tar, &F.err), 0, "%s", F.err.msg);
    cr_expect_eq(lkb_cache_export(F.cache, "nothere:1", tar, &F.err), -1);

    char *dir2 = make_tmpdir("lkb-oci-import");
    struct lkb_cache *c2 = lkb_cache_open(dir2, &F.err);
    cr_assert(c2);
    char **refs;
    size_t n;
    cr_assert_eq(lkb_cache_import(c2, tar, &refs, &n, &F.err), 0, "%s", F.err.msg);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(refs[0], ref);
    free(refs[0]);
    free(refs);
    cr_assert_eq(lkb_oci_image_open(c2, ref, "arm64", &im, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(im->root_digest, json_string_value(json_object_get(info, "root")));
    cr_expect_str_eq(im->manifest_digest, plat_str(info, "arm64", "manifest"));
    lkb_image_free(im);
    void *data;
    size_t len;
    cr_assert_eq(lkb_oci_image_read_file(c2, ref, "arm64", "/etc/hostname", &data, &len, &F.err),
                 0, "%s", F.err.msg);
    cr_expect_str_eq((char *)data, "top-arm64\n");
    free(data);
    /* The imported image satisfies an offline pull. */
    o.offline = true;
    cr_assert_eq(lkb_oci_pull(c2, ref, "arm64", &o, &im, &F.err), 0, "%s", F.err.msg);
    lkb_image_free(im);

    /* docker save archive (members in a different order, plain tar layers) */
    char ds[2048], cmd[16384];
    snprintf(ds, sizeof ds, "%s/save.tar", dir2);
    snprintf(cmd, sizeof cmd, "python3 %s/tests/tools/ocitest.py dockersave %s example.com/saved:2 amd64",
             LKB_TEST_SOURCE_DIR, ds);
    free(run_capture(cmd));
    cr_assert_eq(lkb_cache_import(c2, ds, &refs, &n, &F.err), 0, "%s", F.err.msg);
    cr_assert_eq(n, 1);
    cr_expect_str_eq(refs[0], "example.com/saved:2");
    free(refs[0]);
    free(refs);
    cr_assert_eq(lkb_oci_image_read_file(c2, "example.com/saved:2", "amd64", "/etc/hostname",
                                         &data, &len, &F.err),
                 0, "%s", F.err.msg);
    cr_expect_str_eq((char *)data, "top-amd64\n");
    free(data);

    /* A tampered archive is refused. */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s/bad.tar", dir2);
    snprintf(cmd, sizeof cmd,
             "set -e; d=$(mktemp -d); cd $d; tar xf %s; f=$(ls blobs/sha256 | head -1); "
             "printf X >> blobs/sha256/$f; tar cf %s .; rm -rf $d",
             tar, bad);
    free(run_capture(cmd));
    struct lkb_cache *c3 = lkb_cache_open(F.dir, &F.err);
    cr_expect_eq(lkb_cache_import(c3, bad, NULL, NULL, &F.err), -1);
    cr_expect(strstr(F.err.msg, "digest mismatch"), "%s", F.err.msg);
    lkb_cache_close(c3);
    cr_expect_eq(lkb_cache_import(c2, "/nonexistent.tar", NULL, NULL, &F.err), -1);

    lkb_cache_close(c2);
    lkb_fs_remove_tree(dir2, &F.err);
    free(dir2);
    json_decref(info);
    free(ref);
}

/* The shared test images of tests/images/build-images.sh ($LKB_TEST_STATE/images.env). */
Test(oci_pull, shared_test_images)
{
    char *layers = state_get("images.env", "LKB_TEST_LAYERS");
    char *layers_digest = state_get("images.env", "LKB_TEST_LAYERS_DIGEST");
    static const char *keys[] = {"LKB_TEST_KERNEL", "LKB_TEST_INIT", "LKB_TEST_ONBOOT",
                                 "LKB_TEST_SERVICE", "LKB_TEST_LAYERS"};
    struct lkb_pull_request reqs[5];
    char *refs[5];
    for (int i = 0; i < 5; i++) {
        refs[i] = state_get("images.env", keys[i]);
        reqs[i] = (struct lkb_pull_request){refs[i], "arm64", NULL};
    }
    struct lkb_pull_opts o = fast_opts();
    cr_assert_eq(lkb_oci_pull_many(F.cache, reqs, 5, &o, &F.err), 0, "%s", F.err.msg);
    cr_expect_str_eq(reqs[4].image->root_digest, layers_digest);
    for (int i = 0; i < 5; i++) {
        cr_expect_str_eq(json_string_value(json_object_get(reqs[i].image->config, "architecture")),
                         "arm64", "%s", refs[i]);
        /* The amd64 entry of each index was not fetched. */
        char *data;
        size_t len;
        char *p = blob_file(F.dir, reqs[i].image->root_digest);
        cr_assert_eq(lkb_fs_read_file(p, &data, &len, &F.err), 0);
        free(p);
        json_t *idx = json_loads(data, 0, NULL);
        free(data);
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(idx, "manifests"), k, d)
        {
            const char *arch = json_string_value(
                json_object_get(json_object_get(d, "platform"), "architecture"));
            const char *dg = json_string_value(json_object_get(d, "digest"));
            if (arch && strcmp(arch, "amd64") == 0)
                cr_expect_not(cache_has_blob(F.dir, dg), "%s: amd64 manifest fetched", refs[i]);
        }
        json_decref(idx);
        lkb_image_free(reqs[i].image);
        free(refs[i]);
    }
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/etc/keep", "keep\n"},
        {"/etc/remove-me", NULL},
        {"/wdir/x", NULL},
        {"/wdir", "wdir is a file now\n"},
        {"/opq/lower-a", NULL},
        {"/opq/upper", "u\n"},
        {"/becomes-dir/inside", "now a dir\n"},
        {"/etc/alias", "keep\n"},
        {"/data/link-in-layer2", "shared data\n"},
        {"/etc/new-link", "new\n"},
        {"/private/secret", "s\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        void *data;
        size_t len;
        int rc = lkb_oci_image_read_file(F.cache, layers, "arm64", cases[i].path, &data, &len,
                                         &F.err);
        cr_expect_eq(rc, cases[i].want ? 0 : 1, "%s: rc %d %s", cases[i].path, rc,
                     rc < 0 ? F.err.msg : "");
        if (rc == 0 && cases[i].want)
            cr_expect_str_eq((char *)data, cases[i].want, "%s", cases[i].path);
        if (rc == 0)
            free(data);
    }
    free(layers);
    free(layers_digest);
}
