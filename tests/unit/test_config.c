/* The YAML configuration: corpus, located errors, merge, ids, dumps. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "oci/oci.h"
#include "util/fs.h"

#define DATA LKB_TEST_SOURCE_DIR "/tests/data/yaml"

static struct lkb_config *cfg;
static struct lkb_error err;
static void init(void)
{
    cfg = lkb_config_new();
    lkb_error_clear(&err);
}
static void fini(void) { lkb_config_free(cfg); }
TestSuite(config, .init = init, .fini = fini);

static int load(const char *name, const char *text)
{
    return lkb_config_load_buffer(cfg, name, text, strlen(text), &err);
}

/* Calls fn(path) for every .yml file in dir; returns how many. */
static int each_yml(const char *dir, void (*fn)(const char *path))
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".yml"))
            continue;
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        cr_assert(w > 0 && (size_t)w < sizeof path);
        fn(path);
        n++;
    }
    closedir(d);
    return n;
}

static void check_valid(const char *path)
{
    struct lkb_config *c = lkb_config_new();
    cr_assert_eq(lkb_config_load_file(c, path, &err), 0, "%s: %s", path, err.msg);
    lkb_config_free(c);
}

Test(config, valid_corpus_loads)
{
    cr_assert_geq(each_yml(DATA "/valid", check_valid), 4);
}

static void check_invalid(const char *path)
{
    const char *name = strrchr(path, '/') + 1;
    char epath[4096];
    int w = snprintf(epath, sizeof epath, "%.*s.err", (int)(strlen(path) - 4), path);
    cr_assert(w > 0 && (size_t)w < sizeof epath);
    char *text, *want;
    size_t tl, wl;
    cr_assert_eq(lkb_fs_read_file(path, &text, &tl, &err), 0);
    cr_assert_eq(lkb_fs_read_file(epath, &want, &wl, &err), 0, "missing %s", epath);
    while (wl && want[wl - 1] == '\n')
        want[--wl] = '\0';
    struct lkb_config *c = lkb_config_new();
    struct lkb_error e;
    cr_assert_eq(lkb_config_load_buffer(c, name, text, tl, &e), -1, "%s loaded", name);
    cr_assert_eq(e.kind, LKB_ERR_CONFIG);
    cr_assert_str_eq(e.msg, want, "%s", name);
    /* Nothing of a failed file is merged. */
    cr_assert_eq(json_array_size(c->services) + json_array_size(c->onboot), 0);
    lkb_config_free(c);
    free(text);
    free(want);
}

Test(config, every_invalid_file_gives_its_exact_errors)
{
    cr_assert_geq(each_yml(DATA "/invalid", check_invalid), 15);
}

Test(config, every_field_is_parsed)
{
    cr_assert_eq(lkb_config_load_file(cfg, DATA "/valid/everything.yml", &err), 0, "%s", err.msg);
    json_t *e = json_array_get(cfg->onboot, 0);
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "binary")), "bzImage");
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "ucode")), "intel-ucode.cpio");
    /* An empty cmdline is the same as none (a later file cannot clear it). */
    cr_assert_null(json_object_get(cfg->kernel, "cmdline"));
    cr_assert_eq(json_array_size(json_object_get(e, "capabilities.add")), 1);
    cr_assert_eq(json_integer_value(json_object_get(e, "oomScoreAdj")), -500);
    cr_assert(json_is_true(json_object_get(e, "readonly")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "sysctl"),
                                                       "net.ipv4.ip_forward")),
                     "1");
    json_t *res = json_object_get(e, "resources");
    /* camelCase resource keys are kept (LinuxKit drops them). */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(res, "memory"), "kernelTCP")),
                 2);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(res, "blockio"),
                                                 "throttleWriteIOPSDevice")),
                 1);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_array_get(json_object_get(e, "uidMappings"), 0), "size")),
                 65536);
    json_t *rt = json_object_get(e, "runtime");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rt, "bindNS"), "uts")),
                     "/g");
    cr_assert(json_is_true(
        json_object_get(json_array_get(json_object_get(e, "devices"), 0), "major")) == 0);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(json_object_get(e, "devices"), 0), "major")),
                 1);
    json_t *f = json_array_get(cfg->files, 2);
    cr_assert_str_eq(json_string_value(json_object_get(f, "contents")), "line one\nline two\n");
    cr_assert_eq(json_array_size(cfg->files), 4);
}

Test(config, scalars_follow_go_yaml_v3)
{
    cr_assert_eq(load("s.yml", "services:\n  - name: a\n    image: alpine\n    uid: 0777\n"
                               "    gid: '0777'\n    env: [yes, ~x, 'true']\n"),
                 0, "%s", err.msg);
    json_t *e = json_array_get(cfg->services, 0);
    cr_assert_eq(json_integer_value(json_object_get(e, "uid")), 511);
    cr_assert_str_eq(json_string_value(json_object_get(e, "gid")), "0777");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "env"), 0)), "yes");
}

Test(config, merge_semantics)
{
    cr_assert_eq(load("a.yml", "kernel:\n  image: k:1\n  cmdline: one\n  tar: custom.tar\n"
                               "init: [i:1]\nservices: [{name: s1, image: x}]\n"
                               "volumes: [{name: v1}]\n"),
                 0, "%s", err.msg);
    cr_assert_eq(load("b.yml", "kernel:\n  cmdline: \"\"\n  tar: \"\"\n  binary: b\n"
                               "init: [i:2]\nservices: [{name: s2, image: y}]\n"),
                 0, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "image")), "k:1");
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "cmdline")), "one",
                     "a later empty cmdline does not clear it");
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "tar")), "",
                     "tar is replaced when present, even empty");
    cr_assert_str_eq(json_string_value(json_object_get(cfg->kernel, "binary")), "b");
    cr_assert_eq(json_array_size(cfg->init), 2);
    cr_assert_eq(json_array_size(cfg->services), 2);

    cr_assert_eq(load("c.yml", "services: [{name: s1, image: z}]\n"), -1);
    cr_assert_str_eq(err.msg, "c.yml:1:19: services[0]: duplicate service name 's1' (first at "
                              "a.yml:6:19)");
    cr_assert_eq(load("d.yml", "volumes: [{name: v1}]\n"), -1);
    cr_assert_str_eq(err.msg,
                     "d.yml:1:18: volumes[0]: duplicate volume name 'v1' (first at a.yml:7:18)");
    cr_assert_eq(json_array_size(cfg->services), 2, "failed files are not merged");
}

Test(config, ids_by_name)
{
    cr_assert_eq(load("ids.yml", "onboot: [{name: a, image: x}, {name: b, image: x}]\n"
                                 "onshutdown: [{name: c, image: x}]\n"
                                 "services: [{name: d, image: x, uid: nobody}, {name: a, image: y}]\n"),
                 0, "%s", err.msg);
    uint32_t id;
    json_t *v = json_string("b");
    cr_assert_eq(lkb_config_resolve_id(cfg, v, &id, &err), 0);
    cr_assert_eq(id, 101);
    json_decref(v);
    v = json_string("a"); /* the later entry's id wins */
    cr_assert_eq(lkb_config_resolve_id(cfg, v, &id, &err), 0);
    cr_assert_eq(id, 104);
    json_decref(v);
    v = json_string("root");
    cr_assert_eq(lkb_config_resolve_id(cfg, v, &id, &err), 0);
    cr_assert_eq(id, 0);
    json_decref(v);
    v = json_integer(4242);
    cr_assert_eq(lkb_config_resolve_id(cfg, v, &id, &err), 0);
    cr_assert_eq(id, 4242);
    json_decref(v);
    json_t *uid = json_object_get(json_array_get(cfg->services, 0), "uid");
    cr_assert_eq(lkb_config_resolve_id(cfg, uid, &id, &err), -1);
    cr_assert(strstr(err.msg, "ids.yml:3:37: cannot find id: nobody"), "%s", err.msg);
}

Test(config, where_locates_values)
{
    cr_assert_eq(load("w.yml", "services:\n  - name: a\n    image: alpine\n    binds:\n"
                               "      - /x:/y\n"),
                 0);
    char buf[128];
    json_t *b = json_array_get(json_object_get(json_array_get(cfg->services, 0), "binds"), 0);
    cr_assert_str_eq(lkb_config_where(cfg, b, buf, sizeof buf), "w.yml:5:9");
}

static char *dump(struct lkb_config *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    cr_assert_eq(lkb_config_dump_yaml(c, f, &err), 0, "%s", err.msg);
    fclose(f);
    return out;
}

static char *metadata(struct lkb_config *c, const char *kind)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(lkb_config_metadata(c, kind, &out, &len, &err), 0, "%s", err.msg);
    return out;
}

static char *read_expected(const char *yml, const char *ext)
{
    char path[4096];
    int w = snprintf(path, sizeof path, "%.*s.%s", (int)(strlen(yml) - 4), yml, ext);
    cr_assert(w > 0 && (size_t)w < sizeof path);
    char *text;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(path, &text, &len, &err), 0, "missing %s", path);
    return text;
}

/* tests/data/yaml/dump: each X.yml says in its header which go-yaml or
 * LinuxKit rule it covers; X.dry-run, X.metadata and X.json are what
 * LinuxKit writes for it (yaml.v3, yaml.v2 and encoding/json marshalling
 * of its Moby struct). */
static void check_dump(const char *path)
{
    struct lkb_config *c = lkb_config_new();
    cr_assert_eq(lkb_config_load_file(c, path, &err), 0, "%s", err.msg);
    char *out = dump(c), *want = read_expected(path, "dry-run");
    cr_assert_str_eq(out, want, "%s: dry-run differs", path);
    free(out);
    free(want);
    out = metadata(c, "yaml");
    want = read_expected(path, "metadata");
    cr_assert_str_eq(out, want, "%s: metadata yaml differs", path);
    free(out);
    free(want);
    out = metadata(c, "json");
    want = read_expected(path, "json");
    cr_assert_str_eq(out, want, "%s: metadata json differs", path);
    free(out);
    free(want);
    lkb_config_free(c);
}

Test(config, dry_run_and_metadata_are_byte_identical_to_linuxkit)
{
    cr_assert_geq(each_yml(DATA "/dump", check_dump), 5);
}

/* What lkb writes loads again with the same meaning: dump, load the dump,
 * dump again: the same bytes (dry-run and metadata yaml). */
static void check_round_trip(const char *path)
{
    /* examples/ name their registry ${LKB_REGISTRY} (bootstrap.sh fills it). */
    char *text, *fixed;
    size_t len;
    cr_assert_eq(lkb_fs_read_file(path, &text, &len, &err), 0);
    cr_assert_not_null(fixed = calloc(1, len * 2 + 1));
    for (char *p = text, *o = fixed; *p;)
        if (strncmp(p, "${LKB_REGISTRY}", 15) == 0)
            o = stpcpy(o, "localhost:5000"), p += 15;
        else
            *o++ = *p++;
    struct lkb_config *c = lkb_config_new();
    cr_assert_eq(lkb_config_load_buffer(c, path, fixed, strlen(fixed), &err), 0, "%s: %s", path,
                 err.msg);
    free(text);
    free(fixed);
    for (int meta = 0; meta < 2; meta++) {
        char *first = meta ? metadata(c, "yaml") : dump(c);
        struct lkb_config *again = lkb_config_new();
        cr_assert_eq(lkb_config_load_buffer(again, "written", first, strlen(first), &err), 0,
                     "%s (%s) does not load again: %s\n%s", path, meta ? "metadata" : "dry-run",
                     err.msg, first);
        char *second = meta ? metadata(again, "yaml") : dump(again);
        cr_assert_str_eq(second, first, "%s: %s changes when read back", path,
                         meta ? "metadata" : "dry-run");
        lkb_config_free(again);
        free(first);
        free(second);
    }
    lkb_config_free(c);
}

Test(config, every_written_configuration_loads_again_with_the_same_meaning)
{
    int n = each_yml(DATA "/valid", check_round_trip);
    n += each_yml(DATA "/dump", check_round_trip);
    n += each_yml(LKB_TEST_SOURCE_DIR "/examples", check_round_trip);
    cr_assert_geq(n, 11);
    /* Merged files too, and the semantic parts survive. */
    cr_assert_eq(lkb_config_load_file(cfg, DATA "/valid/everything.yml", &err), 0, "%s", err.msg);
    cr_assert_eq(lkb_config_load_file(cfg, DATA "/valid/volumes-wireguard.yml", &err), 0, "%s",
                 err.msg);
    char *out = dump(cfg);
    struct lkb_config *again = lkb_config_new();
    cr_assert_eq(lkb_config_load_buffer(again, "dump", out, strlen(out), &err), 0, "%s", err.msg);
    cr_assert(json_equal(cfg->kernel, again->kernel));
    cr_assert(json_equal(cfg->init, again->init));
    cr_assert(json_equal(json_object_get(json_array_get(cfg->onboot, 0), "resources"),
                         json_object_get(json_array_get(again->onboot, 0), "resources")));
    cr_assert_eq(json_array_size(again->volumes), json_array_size(cfg->volumes));
    cr_assert(strstr(out, "kernel:\n    image: linuxkit/kernel:6.6.13\n"), "%s", out);
    lkb_config_free(again);
    free(out);
}

static const char *diag(const char *text)
{
    struct lkb_config *c = lkb_config_new();
    int rc = lkb_config_load_buffer(c, "t.yml", text, strlen(text), &err);
    lkb_config_free(c);
    return rc == 0 ? "" : err.msg;
}

Test(config, linuxkit_written_kernel_and_optional_load)
{
    /* LinuxKit writes both in every dump without a kernel. */
    cr_assert_eq(load("k.yml", "kernel:\n  image: \"\"\nfiles:\n  - path: a\n    contents: x\n"
                               "    optional: false\n"),
                 0, "%s", err.msg);
    cr_assert_null(json_object_get(cfg->kernel, "image"));
    cr_assert_str_eq(diag("files:\n  - path: a\n    contents: x\n    optional: true\n"),
                     "t.yml:4:15: files[0]: optional only applies to source");
}

Test(config, empty_file_and_empty_document_as_linuxkit)
{
    /* go-yaml: no document at all is end of file, an error ... */
    cr_assert_str_eq(diag(""), "t.yml:1:1: empty configuration");
    cr_assert_str_eq(diag("# only a comment\n"), "t.yml:1:1: empty configuration");
    /* ... an explicitly empty one an empty configuration. */
    cr_assert_eq(load("e.yml", "---\n"), 0, "%s", err.msg);
    cr_assert_eq(load("e.yml", "~\n"), 0, "%s", err.msg);
    cr_assert_eq(json_array_size(cfg->services) + json_object_size(cfg->kernel), 0);
    cr_assert_str_eq(diag("just a string\n"),
                     "t.yml:1:1: the configuration must be a mapping, got string");
}

Test(config, at_strings_as_image_references_fail_located)
{
    cr_assert_str_eq(diag("init:\n  - linuxkit/init:1\nservices:\n  - name: a\n"
                          "    image: \"@lkt:foo\"\n"),
                     "t.yml:5:12: services[0]: '@lkt:foo' is not an image reference (only "
                     "@pkg: templates start with '@', and those are not supported)");
    cr_assert_eq(err.kind, LKB_ERR_CONFIG);
    /* Elsewhere an '@' string is just a string (LinuxKit blanks it). */
    cr_assert_eq(load("c.yml", "files:\n  - path: etc/cron\n    contents: \"@reboot x\"\n"), 0,
                 "%s", err.msg);
}

Test(config, reference_check_is_the_registry_parser)
{
    cr_assert_str_eq(diag("init:\n  - localhost:abc/foo\n"),
                     "t.yml:2:5: init[0]: invalid image reference localhost:abc/foo: "
                     "'localhost:abc' is not a registry host[:port]");
    struct lkb_oci_ref r;
    cr_assert_eq(lkb_oci_ref_parse("localhost:abc/foo", &r, &err), -1);
    cr_assert_eq(lkb_oci_ref_parse("localhost:5000/foo:1", &r, &err), 0, "%s", err.msg);
    lkb_oci_ref_free(&r);
    cr_assert_eq(lkb_oci_ref_parse("[::1]:5000/foo", &r, &err), 0, "%s", err.msg);
    lkb_oci_ref_free(&r);
    cr_assert_eq(lkb_oci_ref_parse("-bad.example/foo", &r, &err), -1);
}

Test(config, explicit_tags_as_go_yaml_v3)
{
    cr_assert_eq(load("t.yml", "onboot:\n  - name: a\n    image: alpine\n"
                               "    command: [!!str 123, !!str true, ! 7, !custom 8]\n"
                               "    oomScoreAdj: !!int \"5\"\n    uid: !!int 0x10\n"
                               "    readonly: !!bool \"true\"\n"),
                 0, "%s", err.msg);
    json_t *e = json_array_get(cfg->onboot, 0), *cmd = json_object_get(e, "command");
    cr_assert_str_eq(json_string_value(json_array_get(cmd, 0)), "123");
    cr_assert_str_eq(json_string_value(json_array_get(cmd, 1)), "true");
    cr_assert_str_eq(json_string_value(json_array_get(cmd, 2)), "7");
    cr_assert_str_eq(json_string_value(json_array_get(cmd, 3)), "8");
    cr_assert_eq(json_integer_value(json_object_get(e, "oomScoreAdj")), 5);
    cr_assert_eq(json_integer_value(json_object_get(e, "uid")), 16);
    cr_assert(json_is_true(json_object_get(e, "readonly")));
    cr_assert_str_eq(diag("onboot:\n  - name: a\n    image: alpine\n    oomScoreAdj: !!int abc\n"),
                     "t.yml:4:18: cannot decode !!str `abc` as a !!int");
    cr_assert_str_eq(diag("init: [!!binary aGk=]\n"), "t.yml:1:8: unsupported tag !!binary");
}

Test(config, whole_floats_are_integers_as_in_linuxkit)
{
    cr_assert_eq(load("f.yml", "onboot:\n  - name: a\n    image: alpine\n    oomScoreAdj: -1.0\n"
                               "    devices: [{path: /dev/x, type: c, major: 1e1, minor: 2.0, "
                               "mode: \"0600\"}]\n    uid: 1_000\n    gid: 08\n"),
                 0, "%s", err.msg);
    json_t *e = json_array_get(cfg->onboot, 0);
    cr_assert_eq(json_integer_value(json_object_get(e, "oomScoreAdj")), -1);
    json_t *d = json_array_get(json_object_get(e, "devices"), 0);
    cr_assert_eq(json_integer_value(json_object_get(d, "major")), 10);
    cr_assert_eq(json_integer_value(json_object_get(d, "minor")), 2);
    cr_assert_eq(json_integer_value(json_object_get(e, "uid")), 1000);
    /* Not an octal integer, so go-yaml's float 8, a whole number. */
    cr_assert_eq(json_integer_value(json_object_get(e, "gid")), 8);
    cr_assert_str_eq(diag("onboot:\n  - name: a\n    image: alpine\n    oomScoreAdj: 1.5\n"),
                     "t.yml:4:18: onboot[0].oomScoreAdj: expected an integer, got number");
}

Test(config, booleans_have_their_own_locations)
{
    /* Several true values before the faulty one: each is located apart. */
    const char *text = "onboot:\n  - name: a\n    image: alpine\n    readonly: true\n"
                       "files:\n  - path: d\n    directory: true\n"
                       "  - path: x\n    contents: y\n    optional: true\n";
    cr_assert_str_eq(diag(text), "t.yml:10:15: files[1]: optional only applies to source");
    cr_assert_eq(load("b.yml", "onboot:\n  - name: a\n    image: alpine\n    readonly: true\n"
                               "  - name: b\n    image: alpine\n    readonly: true\n"),
                 0, "%s", err.msg);
    char w[256];
    json_t *b = json_array_get(cfg->onboot, 1);
    cr_assert_str_eq(lkb_config_where_key(cfg, b, "readonly", w, sizeof w), "b.yml:7:15");
    cr_assert_str_eq(lkb_config_where_key(cfg, json_array_get(cfg->onboot, 0), "readonly", w,
                                          sizeof w),
                     "b.yml:4:15");
    /* A shared true cannot be located by pointer. */
    cr_assert_str_eq(lkb_config_where(cfg, json_object_get(b, "readonly"), w, sizeof w), "?");
}

Test(config, metadata_yaml_matches_linuxkit_example)
{
    cr_assert_eq(load("m.yml", "kernel: {image: linuxkit/kernel:6.6.13, cmdline: \"console=ttyS0\"}\n"
                               "init: [linuxkit/init:abc]\n"
                               "onboot:\n  - name: dhcpcd\n    image: linuxkit/dhcpcd:def\n"
                               "    command: [\"/sbin/dhcpcd\", \"-1\"]\n"
                               "files:\n  - path: etc/linuxkit.yml\n    metadata: yaml\n"),
                 0, "%s", err.msg);
    char *out;
    size_t len;
    cr_assert_eq(lkb_config_metadata(cfg, "yaml", &out, &len, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out, "kernel:\n  image: docker.io/linuxkit/kernel:6.6.13\n"
                          "  cmdline: console=ttyS0\n"
                          "init:\n- docker.io/linuxkit/init:abc\n"
                          "onboot:\n- name: dhcpcd\n  image: docker.io/linuxkit/dhcpcd:def\n"
                          "  command:\n  - /sbin/dhcpcd\n  - \"-1\"\n"
                          "onshutdown: []\nservices: []\n"
                          "files:\n- path: etc/linuxkit.yml\n  directory: false\n"
                          "  metadata: yaml\n  optional: false\n"
                          "volumes: []\n");
    free(out);
    cr_assert_eq(lkb_config_metadata(cfg, "json", &out, &len, &err), 0, "%s", err.msg);
    cr_assert(strstr(out, "\"onshutdown\": null"), "%s", out);
    cr_assert(strstr(out, "\"image\": \"docker.io/linuxkit/dhcpcd:def\""), "%s", out);
    free(out);
}

Test(config, label_cannot_set_name_or_image_and_alias_bombs_are_bounded)
{
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    cr_assert_eq(load("bomb.yml", bomb), -1);
    cr_assert(strstr(err.msg, "too many nodes"), "%s", err.msg);
}

/* Issue 15 item 4: libyaml's scanner is quadratic in flow nesting; the
 * depth cap now applies while parsing. A 1 MB label of '[' (the registry
 * controls labels) and a 1 MB file took minutes. */
Test(config, deep_nesting_is_refused_before_it_costs, .timeout = 10)
{
    size_t n = 1 << 20;
    char *text = malloc(n + 1);
    memset(text, '[', n);
    text[n] = '\0';
    json_t *label = NULL;
    cr_assert_eq(lkb_config_parse_label(text, "reg/img:1", &label, &err), -1);
    cr_assert(strstr(err.msg, "label org.mobyproject.config of reg/img:1:1:65: nested more than "
                              "64 levels deep"),
              "%s", err.msg);
    struct lkb_config *c = lkb_config_new();
    cr_assert_eq(lkb_config_load_buffer(c, "deep.yml", text, n, &err), -1);
    cr_assert(strstr(err.msg, "deep.yml:1:65: nested more than 64 levels deep"), "%s", err.msg);
    lkb_config_free(c);
    free(text);
}
