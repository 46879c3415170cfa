/* The SBOM merge and its SPDX 2.3 serialisation (build-and-outputs.md
 * §9.2): golden bytes for two attestations merged with extraction prefixes,
 * Go's filepath.Join, reproducible and -sbom-current-time namespaces, and
 * malformed statements refused with the image and digest named. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbom/sbom.h"
#include "util/fs.h"

#define DATA LKB_TEST_SOURCE_DIR "/tests/data/sbom"
#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct lkb_error err;

static char *slurp(const char *name, size_t *len)
{
    char path[4096], *d;
    size_t n;
    snprintf(path, sizeof path, DATA "/%s", name);
    cr_assert_eq(lkb_fs_read_file(path, &d, &n, &err), 0, "%s", err.msg);
    if (len)
        *len = n;
    return d;
}

static void add_file(struct lkb_sbom *s, const char *name, const char *ref, const char *digest,
                     const char *prefix)
{
    size_t n;
    char *d = slurp(name, &n);
    cr_assert_eq(lkb_sbom_add_statement(s, d, n, ref, digest, prefix, &err), 0, "%s", err.msg);
    free(d);
}

static char *render(const struct lkb_sbom *s, int64_t now)
{
    char *out;
    size_t len;
    cr_assert_eq(lkb_sbom_render(s, now, &out, &len, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(out), len);
    return out;
}

/* Compare with a golden file; on a mismatch the actual bytes are left in
 * $TMPDIR for a look. */
static void expect_golden(const char *got, const char *name)
{
    char *want = slurp(name, NULL);
    if (strcmp(got, want) != 0) {
        char p[4096];
        snprintf(p, sizeof p, "%s/lkb-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
        FILE *f = fopen(p, "w");
        if (f) {
            fputs(got, f);
            fclose(f);
        }
        cr_assert_fail("%s differs from " DATA "/%s (actual in %s)", name, name, p);
    }
    free(want);
}

Test(sbom, path_join_is_gos_filepath_join)
{
    static const char *const cases[][3] = {
        {"", "", ""},
        {"", "/bin/busybox", "/bin/busybox"},
        {"", "bin/busybox", "bin/busybox"},
        {"containers/onboot/000-a/rootfs", "/bin/busybox", "containers/onboot/000-a/rootfs/bin/busybox"},
        {"containers/services/s/lower/", "./usr//bin/", "containers/services/s/lower/usr/bin"},
        {"p", "", "p"},
        {"p", "../../x", "../x"},
        {"", "/../x", "/x"},
        {"", "a/./b/../c", "a/c"},
        {"", "..", ".."},
        {"", "a/..", "."},
        {"/", "", "/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *j = lkb_sbom_path_join(cases[i][0], cases[i][1]);
        cr_assert_str_eq(j, cases[i][2], "join(%s, %s)", cases[i][0], cases[i][1]);
        free(j);
    }
}

Test(sbom, merges_in_order_with_prefixes)
{
    struct lkb_sbom *s = lkb_sbom_new();
    add_file(s, "a.intoto.json", "reg/init:1", DIGEST_A, "");
    add_file(s, "b.intoto.json", "reg/onboot:1", DIGEST_B, "containers/onboot/000-b/rootfs");
    char *out = render(s, -1);
    expect_golden(out, "merged.spdx.json");
    /* Reproducible: the same content gives the same bytes. */
    char *again = render(s, -1);
    cr_assert_str_eq(out, again);
    free(again);
    free(out);
    lkb_sbom_free(s);
}

Test(sbom, nothing_collected_is_still_a_document)
{
    struct lkb_sbom *s = lkb_sbom_new();
    char *out = render(s, -1);
    expect_golden(out, "empty.spdx.json");
    free(out);
    lkb_sbom_free(s);
}

static char *namespace_of(const char *doc)
{
    json_t *j = json_loads(doc, 0, NULL);
    cr_assert(j);
    char *ns = strdup(json_string_value(json_object_get(j, "documentNamespace")));
    json_decref(j);
    return ns;
}

Test(sbom, namespace_follows_content)
{
    struct lkb_sbom *a = lkb_sbom_new(), *b = lkb_sbom_new();
    add_file(a, "a.intoto.json", "reg/init:1", DIGEST_A, "");
    add_file(b, "a.intoto.json", "reg/init:1", DIGEST_A, "other");
    char *da = render(a, -1), *db = render(b, -1);
    char *na = namespace_of(da), *nb = namespace_of(db);
    cr_assert_str_neq(na, nb, "different contents, different namespaces");
    /* A version 8 UUID with the RFC 9562 variant. */
    const char *u = na + strlen("https://github.com/linuxkit/linuxkit/sbom-");
    cr_assert_eq(strlen(u), 36);
    cr_assert_eq(u[14], '8');
    cr_assert(strchr("89ab", u[19]));
    free(na), free(nb), free(da), free(db);
    lkb_sbom_free(a);
    lkb_sbom_free(b);
}

Test(sbom, current_time_sets_created_and_a_random_namespace)
{
    struct lkb_sbom *s = lkb_sbom_new();
    add_file(s, "a.intoto.json", "reg/init:1", DIGEST_A, "");
    char *d1 = render(s, 1700000000), *d2 = render(s, 1700000000);
    json_t *j = json_loads(d1, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "creationInfo"),
                                                       "created")),
                     "2023-11-14T22:13:20Z");
    json_decref(j);
    char *n1 = namespace_of(d1), *n2 = namespace_of(d2);
    cr_assert_str_neq(n1, n2, "LinuxKit's random namespace with -sbom-current-time");
    cr_assert_eq(n1[strlen("https://github.com/linuxkit/linuxkit/sbom-") + 14], '4');
    free(n1), free(n2), free(d1), free(d2);
    lkb_sbom_free(s);
}

/* Every malformed statement is refused naming the image and the digest,
 * and adds nothing to the document. */
Test(sbom, malformed_statements_are_errors)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"predicate\": 3}",
        "{\"_type\": \"x\"}",
        "{\"predicate\": {\"packages\": {}}}",
        "{\"predicate\": {\"packages\": [1]}}",
        "{\"predicate\": {\"files\": [{\"fileName\": 7}]}}",
        "{\"predicate\": {\"packages\": [{\"packageFileName\": []}]}}",
        "{\"predicate\": {\"documentDescribes\": \"SPDXRef-x\"}}",
        "{\"predicate\": {\"documentDescribes\": [1]}}",
        "{\"predicate\": {\"packages\": [{\"SPDXID\": \"p\", \"hasFiles\": [{}]}]}}",
        "{\"predicate\": {\"packages\": [{\"hasFiles\": [\"f\"]}]}}",
        "{\"predicate\": {\"relationships\": [\"x\"], \"packages\": [{\"name\": \"n\"}]}}",
    };
    struct lkb_sbom *s = lkb_sbom_new();
    char *empty = render(s, -1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lkb_error_clear(&err);
        cr_assert_eq(lkb_sbom_add_statement(s, bad[i], strlen(bad[i]), "reg/img:1", DIGEST_A, "p",
                                            &err),
                     -1, "accepted: %s", bad[i]);
        cr_assert(strstr(err.msg, "reg/img:1") && strstr(err.msg, DIGEST_A), "%s: %s", bad[i],
                  err.msg);
    }
    char *after = render(s, -1);
    cr_assert_str_eq(after, empty, "a refused statement added something");
    free(after);
    free(empty);
    lkb_sbom_free(s);
}
