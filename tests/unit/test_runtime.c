/* config.json / runtime.json against the spec's worked examples (golden
 * bytes) and the precedence/validation rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "runtime/runtime.h"
#include "util/fs.h"

#define DATA LKB_TEST_SOURCE_DIR "/tests/data/runtime"

static struct lkb_config *cfg;
static struct lkb_error err;
static void init(void) { cfg = lkb_config_new(); }
static void fini(void) { lkb_config_free(cfg); }
TestSuite(runtime, .init = init, .fini = fini);

static char *golden(const char *name)
{
    char path[4096], *d;
    size_t n;
    snprintf(path, sizeof path, DATA "/%s", name);
    cr_assert_eq(lkb_fs_read_file(path, &d, &n, &err), 0, "%s", err.msg);
    while (n && d[n - 1] == '\n')
        d[--n] = '\0';
    return d;
}

static int gen(const char *yaml, const char *section, size_t idx, const char *label,
               const char *imgcfg, const char *bundle, const char *root, char **c, char **r)
{
    cr_assert_eq(lkb_config_load_buffer(cfg, "t.yml", yaml, strlen(yaml), &err), 0, "%s",
                 err.msg);
    json_t *sec = !strcmp(section, "services") ? cfg->services
                  : !strcmp(section, "onboot") ? cfg->onboot
                                               : cfg->onshutdown;
    json_t *lab = NULL;
    if (label)
        cr_assert_eq(lkb_config_parse_label(label, "img", &lab, &err), 0, "%s", err.msg);
    json_t *ic = json_loads(imgcfg, 0, NULL);
    cr_assert_not_null(ic);
    struct lkb_runtime_input in = {section, idx, json_array_get(sec, idx), lab, ic, cfg, bundle,
                                   root};
    int rc = lkb_runtime_bundle_files(&in, c, r, &err);
    json_decref(lab);
    json_decref(ic);
    return rc;
}

Test(runtime, example1_service_without_label)
{
    char *c, *r;
    cr_assert_eq(gen("services:\n  - name: shell\n    image: alpine:3.20\n", "services", 0, NULL,
                     "{\"Env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
                     "/bin\"], \"Cmd\": [\"/bin/sh\"]}",
                     "containers/services/shell", "containers/services/shell/lower", &c, &r),
                 0, "%s", err.msg);
    char *gc = golden("ex1-config.json"), *gr = golden("ex1-runtime.json");
    cr_assert_str_eq(c, gc);
    cr_assert_str_eq(r, gr);
    free(c), free(r), free(gc), free(gr);
}

Test(runtime, example2_label_defaults_caps_add_readonly)
{
    char *c, *r;
    cr_assert_eq(gen("onboot:\n  - name: first\n    image: x\n  - name: rngd1\n"
                     "    image: linuxkit/rngd:abc\n    capabilities.add:\n      - CAP_NET_ADMIN\n"
                     "    command: [\"/sbin/rngd\", \"-1\"]\n",
                     "onboot", 1,
                     "{\"capabilities\":[\"CAP_SYS_ADMIN\"],\"oomScoreAdj\":-800,\"readonly\":true,"
                     "\"net\":\"new\",\"ipc\":\"new\"}",
                     "{\"Entrypoint\": [\"/sbin/rngd\"], \"Cmd\": [\"-f\"], \"Env\": "
                     "[\"PATH=/sbin:/bin\"]}",
                     "containers/onboot/001-rngd1", "containers/onboot/001-rngd1/rootfs", &c, &r),
                 0, "%s", err.msg);
    json_t *j = json_loads(c, 0, NULL);
    cr_assert_not_null(j);
    json_t *caps = json_object_get(json_object_get(j, "process"), "capabilities");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "effective"), 0)),
                     "CAP_SYS_ADMIN");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "bounding"), 0)),
                     "CAP_NET_ADMIN");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "process"), "oomScoreAdj")),
                 -800);
    cr_assert(json_is_true(json_object_get(json_object_get(j, "root"), "readonly")));
    cr_assert(strstr(c, "\"size=65536k\",\n                \"ro\"\n"), "%s", c);
    json_t *ns = json_object_get(json_object_get(j, "linux"), "namespaces");
    cr_assert_eq(json_array_size(ns), 4);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ns, 0), "type")), "network");
    cr_assert(strstr(r, "\"destination\": \"/containers/onboot/001-rngd1/rootfs\",\n"
                        "            \"source\": \"/containers/onboot/001-rngd1/rootfs\",\n"
                        "            \"options\": [\n                \"bind\"\n"),
              "%s", r);
    json_decref(j);
    free(c), free(r);
}

Test(runtime, binds_volumes_tmpfs_rlimits_devices_go_escaping)
{
    char *c, *r;
    cr_assert_eq(gen("volumes: [{name: data}, {name: ro, readonly: true}]\n"
                     "services:\n  - name: s\n    image: x\n"
                     "    binds: [\"data:/data\", \"ro:/ro:ro\", \"/dev:/dev\"]\n"
                     "    tmpfs: [\"/run:size=1m\"]\n"
                     "    rlimits: [\"nofile, 1024, unlimited\"]\n"
                     "    devices: [{path: /dev/fuse, type: c, major: 10, minor: 229, mode: \"0666\"}]\n"
                     "    command: [\"sh\", \"-c\", \"a && b <x>\"]\n"
                     "    uid: s\n",
                     "services", 0, NULL, "{}", "containers/services/s",
                     "containers/services/s/lower", &c, &r),
                 0, "%s", err.msg);
    cr_assert(strstr(c, "\"source\": \"/containers/volumes/data/merged\""), "%s", c);
    cr_assert(strstr(c, "\"a \\u0026\\u0026 b \\u003cx\\u003e\""), "%s", c);
    cr_assert(strstr(c, "\"hard\": 18446744073709551615,\n"), "%s", c);
    cr_assert(strstr(c, "\"type\": \"RLIMIT_NOFILE\""), "%s", c);
    cr_assert(strstr(c, "\"fileMode\": 438"), "%s", c);
    cr_assert(strstr(c, "\"uid\": 100,"), "uid by name: %s", c);
    /* The bind replaced the default /dev tmpfs. */
    cr_assert_null(strstr(c, "size=65536k"), "%s", c);
    free(c), free(r);
}

Test(runtime, errors_name_the_entry)
{
    char *c, *r;
    cr_assert_eq(gen("services:\n  - name: bad\n    image: x\n    capabilities: [CAP_FLY]\n",
                     "services", 0, NULL, "{}", "containers/services/bad",
                     "containers/services/bad/lower", &c, &r),
                 -1);
    cr_assert_str_eq(err.msg, "t.yml:4:20: services[0] \"bad\": unknown capability: CAP_FLY");
}

Test(runtime, readonly_volume_written_rw_is_refused)
{
    char *c, *r;
    cr_assert_eq(gen("volumes: [{name: ro, readonly: true}]\n"
                     "onboot:\n  - name: w\n    image: x\n    binds: [\"ro:/ro\"]\n",
                     "onboot", 0, NULL, "{}", "containers/onboot/000-w",
                     "containers/onboot/000-w/lower", &c, &r),
                 -1);
    cr_assert(strstr(err.msg, "volume ro is read-only"), "%s", err.msg);
    cr_assert_eq(gen("onboot:\n  - name: w2\n    image: x\n    binds: [\"nosuch:/x\"]\n", "onboot",
                     1, NULL, "{}", "d", "d/lower", &c, &r),
                 -1);
    cr_assert(strstr(err.msg, "volume nosuch not found"), "%s", err.msg);
}
