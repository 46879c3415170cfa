/* The YAML configuration: corpus, located errors, merge, ids, dumps. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
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

Test(config, valid_corpus_loads)
{
    DIR *d = opendir(DATA "/valid");
    cr_assert_not_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".yml"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, DATA "/valid/%s", de->d_name);
        struct lkb_config *c = lkb_config_new();
        cr_assert_eq(lkb_config_load_file(c, path, &err), 0, "%s: %s", de->d_name, err.msg);
        lkb_config_free(c);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 4);
}

Test(config, every_invalid_file_gives_its_exact_errors)
{
    DIR *d = opendir(DATA "/invalid");
    cr_assert_not_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".yml"))
            continue;
        char path[4096], epath[4096];
        snprintf(path, sizeof path, DATA "/invalid/%s", de->d_name);
        snprintf(epath, sizeof epath, DATA "/invalid/%.*s.err", (int)(len - 4), de->d_name);
        char *text, *want;
        size_t tl, wl;
        cr_assert_eq(lkb_fs_read_file(path, &text, &tl, &err), 0);
        cr_assert_eq(lkb_fs_read_file(epath, &want, &wl, &err), 0, "missing %s", epath);
        while (wl && want[wl - 1] == '\n')
            want[--wl] = '\0';
        struct lkb_config *c = lkb_config_new();
        struct lkb_error e;
        cr_assert_eq(lkb_config_load_buffer(c, de->d_name, text, tl, &e), -1, "%s loaded",
                     de->d_name);
        cr_assert_eq(e.kind, LKB_ERR_CONFIG);
        cr_assert_str_eq(e.msg, want, "%s", de->d_name);
        /* Nothing of a failed file is merged. */
        cr_assert_eq(json_array_size(c->services) + json_array_size(c->onboot), 0);
        lkb_config_free(c);
        free(text);
        free(want);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 15);
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

Test(config, dry_run_output_reparses_to_the_same_model)
{
    cr_assert_eq(lkb_config_load_file(cfg, DATA "/valid/everything.yml", &err), 0, "%s", err.msg);
    cr_assert_eq(lkb_config_load_file(cfg, DATA "/valid/volumes-wireguard.yml", &err), 0, "%s",
                 err.msg);
    char *out = dump(cfg);
    struct lkb_config *again = lkb_config_new();
    cr_assert_eq(lkb_config_load_buffer(again, "dump", out, strlen(out), &err), 0, "%s\n%s",
                 err.msg, out);
    cr_assert(json_equal(cfg->onboot, again->onboot), "%s", out);
    cr_assert(json_equal(cfg->services, again->services));
    cr_assert(json_equal(cfg->files, again->files));
    cr_assert(json_equal(cfg->volumes, again->volumes));
    cr_assert(json_equal(cfg->kernel, again->kernel));
    cr_assert(strstr(out, "kernel:\n    image: linuxkit/kernel:6.6.13\n"), "%s", out);
    lkb_config_free(again);
    free(out);
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
