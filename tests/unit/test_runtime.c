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

Test(runtime, example3_binds_add_tmpfs_mounts_devices_rlimits_uid_by_name)
{
    char *c, *r;
    cr_assert_eq(gen("onboot:\n  - name: format\n    image: linuxkit/format:x\n"
                     "services:\n  - name: disk\n    image: example/disk:1\n"
                     "    binds.add:\n      - /etc/disk.conf:/etc/disk.conf:ro\n"
                     "    tmpfs:\n      - /run:size=10m,mode=755\n"
                     "    mounts:\n      - type: proc\n        options: [\"ro\"]\n"
                     "    devices:\n      - path: /dev/console\n        type: c\n        major: 5\n"
                     "        minor: 1\n        mode: \"0600\"\n"
                     "    rlimits:\n      - nofile,1024,unlimited\n"
                     "    uid: format\n    gid: 0\n"
                     "    sysctl:\n      net.ipv4.ip_forward: \"1\"\n"
                     "    annotations:\n      org.example/role: storage\n",
                     "services", 0,
                     "{\"binds\":[\"/dev:/dev\",\"/var:/var:rshared,rbind\"],\"devices\":[{\"path\":"
                     "\"all\",\"type\":\"b\"}],\"capabilities\":[\"CAP_SYS_ADMIN\",\"CAP_MKNOD\"]}",
                     "{\"Cmd\": [\"/usr/bin/disk\"], \"WorkingDir\": \"/work\"}",
                     "containers/services/disk", "containers/services/disk/lower", &c, &r),
                 0, "%s", err.msg);
    char *gc = golden("ex3-config.json");
    cr_assert_str_eq(c, gc);
    free(c), free(r), free(gc);
}

Test(runtime, example4_all_caps_ambient_namespaces_runtime_merge)
{
    char *c, *r;
    cr_assert_eq(gen("services:\n  - name: web\n    image: example/web:2\n"
                     "    capabilities: [ALL]\n    ambient: [CAP_NET_BIND_SERVICE]\n"
                     "    uid: 1000\n    gid: 1000\n    additionalGids: [web, 27]\n"
                     "    net: /run/netns/wg\n    pid: host\n    uts: new\n    hostname: web1\n"
                     "    noNewPrivileges: true\n    readonlyPaths: [/proc/sys]\n"
                     "    maskedPaths: [/proc/kcore]\n    cgroupsPath: /linuxkit/web\n"
                     "    rootfsPropagation: shared\n"
                     "    resources:\n      memory:\n        limit: 134217728\n      pids:\n"
                     "        limit: 100\n"
                     "    runtime:\n      mkdir: [/var/lib/web]\n      bindNS:\n"
                     "        net: /run/netns/web\n",
                     "services", 0,
                     "{\"env\":[\"MODE=label\"],\"runtime\":{\"cgroups\":[\"linuxkit/web\"],"
                     "\"mkdir\":[\"/var/lib/label\"]}}",
                     "{\"Entrypoint\": [\"/usr/sbin/web\"], \"Cmd\": [\"--port\", \"80\"], \"Env\": "
                     "[\"PATH=/bin\"], \"WorkingDir\": \"/srv\"}",
                     "containers/services/web", "containers/services/web/lower", &c, &r),
                 0, "%s", err.msg);
    json_t *j = json_loads(c, 0, NULL), *rt = json_loads(r, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_not_null(rt);
    json_t *want_user = json_loads("{\"uid\": 1000, \"gid\": 1000, \"additionalGids\": [100, 27]}",
                                   0, NULL);
    json_t *proc = json_object_get(j, "process");
    cr_assert(json_equal(json_object_get(proc, "user"), want_user));
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(proc, "env"), 0)),
                     "MODE=label");
    cr_assert_eq(json_array_size(json_object_get(proc, "env")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(proc, "cwd")), "/srv");
    json_t *caps = json_object_get(proc, "capabilities");
    cr_assert_eq(json_array_size(json_object_get(caps, "effective")), 41);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "effective"), 0)),
                     "CAP_CHOWN");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "bounding"), 0)),
                     "CAP_AUDIT_CONTROL");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "bounding"), 28)),
                     "CAP_SYSLOG");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(caps, "ambient"), 0)),
                     "CAP_NET_BIND_SERVICE");
    json_t *want_ns = json_loads("[{\"type\": \"network\", \"path\": \"/run/netns/wg\"}, "
                                 "{\"type\": \"uts\"}, {\"type\": \"mount\"}]",
                                 0, NULL);
    cr_assert(json_equal(json_object_get(json_object_get(j, "linux"), "namespaces"), want_ns));
    json_t *want_res = json_loads("{\"memory\": {\"limit\": 134217728}, \"pids\": {\"limit\": 100}}",
                                  0, NULL);
    cr_assert(json_equal(json_object_get(json_object_get(j, "linux"), "resources"), want_res));
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(rt, "cgroups"), 0)),
                     "linuxkit/web");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(rt, "mkdir"), 0)),
                     "/var/lib/web");
    cr_assert_eq(json_array_size(json_object_get(rt, "mkdir")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rt, "bindNS"), "net")),
                     "/run/netns/web");
    cr_assert_eq(json_array_size(json_object_get(rt, "mounts")), 3);
    json_decref(want_user), json_decref(want_ns), json_decref(want_res);
    json_decref(j), json_decref(rt);
    free(c), free(r);
}
