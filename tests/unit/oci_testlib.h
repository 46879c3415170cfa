/* Helpers shared by the test_oci_*.c suites (static, header-only): the
 * loopback registry from $LKB_TEST_STATE, pushing test images with
 * tests/tools/ocitest.py, helper processes (fault proxy), temp dirs. */
#ifndef LKB_TEST_OCI_TESTLIB_H
#define LKB_TEST_OCI_TESTLIB_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/oci.h"
#include "util/fs.h"

/* VALUE of KEY in $LKB_TEST_STATE/FILE (malloc'd). Fails the test when the
 * state is missing: these tests need the real registry. */
static __attribute__((unused)) char *state_get(const char *file, const char *key)
{
    const char *state = getenv("LKB_TEST_STATE");
    if (!state || !*state)
        cr_assert_fail("LKB_TEST_STATE is not set: start the test registry with "
                       "scripts/test-env.sh (or tests/scripts/registry.sh start DIR) and export "
                       "LKB_TEST_STATE=DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", state, file);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s (is the test registry running?)", path);
    char line[4096];
    size_t klen = strlen(key);
    char *value = NULL;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            line[strcspn(line, "\n")] = '\0';
            value = strdup(line + klen + 1);
            break;
        }
    fclose(f);
    cr_assert(value, "%s has no %s", path, key);
    return value;
}

static __attribute__((unused)) char *test_registry(void) { return state_get("registry.env", "LKB_TEST_REGISTRY"); }

/* Run a shell command and return its stdout (malloc'd); asserts success. */
static __attribute__((unused)) char *run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p, "popen %s", cmd);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "command failed: %s", cmd);
    return buf;
}

/* Push a test image (see tests/tools/ocitest.py) and return its JSON info. */
static __attribute__((unused)) json_t *push_image(const char *registry, const char *name, const char *arches,
                          const char *extra)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/tools/ocitest.py push %s %s %s %s",
             LKB_TEST_SOURCE_DIR, registry, name, arches, extra ? extra : "");
    char *out = run_capture(cmd);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(j, "ocitest.py printed no JSON: %s", out);
    free(out);
    return j;
}

static __attribute__((unused)) const char *plat_str(json_t *info, const char *arch, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(info, "platforms"),
                                                             arch),
                                             key));
}

static __attribute__((unused)) const char *plat_layer(json_t *info, const char *arch, size_t i)
{
    return json_string_value(json_array_get(
        json_object_get(json_object_get(json_object_get(info, "platforms"), arch), "layers"),
        i));
}

static __attribute__((unused)) char *make_tmpdir(const char *prefix)
{
    char *d;
    struct lkb_error err;
    cr_assert_eq(lkb_fs_make_temp_dir(prefix, &d, &err), 0, "%s", err.msg);
    return d;
}

static __attribute__((unused)) bool cache_has_blob(const char *cache_dir, const char *digest)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", cache_dir, digest + 7);
    return access(p, F_OK) == 0;
}

static __attribute__((unused)) char *blob_file(const char *cache_dir, const char *digest)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/blobs/sha256/%s", cache_dir, digest + 7);
    return strdup(p);
}

static __attribute__((unused)) size_t dir_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    char *out = run_capture(cmd);
    size_t n = (size_t)atol(out);
    free(out);
    return n;
}

/* Start tests/tools/faultproxy.py with ARGS; returns its pid and writes
 * "127.0.0.1:PORT" to hostport. */
static __attribute__((unused)) pid_t start_proxy(const char *dir, const char *args, char *hostport, size_t size)
{
    char portfile[4096], cmd[16384];
    snprintf(portfile, sizeof portfile, "%s/proxy.port", dir);
    unlink(portfile);
    snprintf(cmd, sizeof cmd, "exec python3 %s/tests/tools/faultproxy.py --port-file %s %s",
             LKB_TEST_SOURCE_DIR, portfile, args);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            int ok = fscanf(f, "%d", &port);
            fclose(f);
            if (ok == 1 && port > 0) {
                snprintf(hostport, size, "127.0.0.1:%d", port);
                return pid;
            }
        }
        usleep(50000);
    }
    kill(pid, SIGTERM);
    cr_assert_fail("faultproxy.py did not start");
    return -1;
}

static __attribute__((unused)) void stop_proc(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* Lines of FILE containing every one of the (up to two) substrings. */
static __attribute__((unused)) size_t count_lines(const char *file, const char *a, const char *b)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    char line[8192];
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, a) && (!b || strstr(line, b));
    fclose(f);
    return n;
}

/* Test-speed pull options: quick back-off, no progress line. */
static __attribute__((unused)) struct lkb_pull_opts fast_opts(void)
{
    struct lkb_pull_opts o = {0};
    o.retry_base_ms = 20;
    o.no_progress = true;
    o.timeout_s = 10;
    return o;
}

#endif
