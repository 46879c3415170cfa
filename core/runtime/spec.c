/* config.json / runtime.json generation (runtime-config.md §1-§11). The
 * precedence rule everywhere: YAML if set, else the image label, else the
 * image config (command/env/cwd only), else LinuxKit's default. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/runtime.h"
#include "util/str.h"

static const char *const all_caps[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};
#define N_CAPS (sizeof all_caps / sizeof *all_caps)

static const char *const rlimit_names[] = {
    "RLIMIT_CPU",  "RLIMIT_FSIZE",   "RLIMIT_DATA",       "RLIMIT_STACK",    "RLIMIT_CORE",
    "RLIMIT_RSS",  "RLIMIT_NPROC",   "RLIMIT_NOFILE",     "RLIMIT_MEMLOCK",  "RLIMIT_AS",
    "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",   "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME"};

struct gen {
    const struct lkb_runtime_input *in;
    struct lkb_error *err;
    char who[256]; /* `services[2] "sshd"` */
};

static int fail(struct gen *g, const json_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct gen *g, const json_t *at, const char *fmt, ...)
{
    char msg[1024], where[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at)
        lkb_config_where(g->in->cfg, at, where, sizeof where);
    if (where[0] && strcmp(where, "?") != 0)
        return lkb_error_set(g->err, LKB_ERR_CONFIG, "%s: %s: %s", where, g->who, msg);
    return lkb_error_set(g->err, LKB_ERR_CONFIG, "%s: %s", g->who, msg);
}

/* YAML value if the key is present, else the label's. */
static const json_t *pick(const struct gen *g, const char *key)
{
    const json_t *v = json_object_get(g->in->entry, key);
    return v ? v : json_object_get(g->in->label, key);
}

/* For strings where "" means unset. */
static const char *pick_str(const struct gen *g, const char *key)
{
    const char *y = json_string_value(json_object_get(g->in->entry, key));
    if (y && *y)
        return y;
    const char *l = json_string_value(json_object_get(g->in->label, key));
    return l && *l ? l : NULL;
}

bool lkb_runtime_readonly(const json_t *entry, const json_t *label)
{
    const json_t *v = json_object_get(entry, "readonly");
    if (!v)
        v = json_object_get(label, "readonly");
    return json_is_true(v);
}

static json_t *strarr(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int set_if_nonempty(json_t *obj, const char *key, json_t *v)
{
    if ((json_is_array(v) && json_array_size(v) == 0) ||
        (json_is_object(v) && json_object_size(v) == 0)) {
        json_decref(v);
        return 0;
    }
    return json_object_set_new(obj, key, v);
}

/* ---- capabilities (§6) ---- */

static int known_cap(const char *c)
{
    for (size_t i = 0; i < N_CAPS; i++)
        if (strcmp(all_caps[i], c) == 0)
            return 1;
    return 0;
}

/* The YAML value spelled s (copies lose their location). */
static const json_t *yaml_node_with(struct gen *g, const char *s)
{
    static const char *const keys[] = {"capabilities", "capabilities.add", "ambient"};
    for (size_t k = 0; s && k < 3; k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(g->in->entry, keys[k]), i, v) if (
            json_is_string(v) && strcmp(json_string_value(v), s) == 0) return v;
    }
    return NULL;
}

/* all/none as a single element; then every name must be known. */
static json_t *expand_caps(struct gen *g, json_t *list)
{
    if (json_array_size(list) == 1) {
        const char *s = json_string_value(json_array_get(list, 0));
        if (s && strcasecmp(s, "none") == 0) {
            json_decref(list);
            return json_array();
        }
        if (s && strcasecmp(s, "all") == 0) {
            json_decref(list);
            return strarr(all_caps, N_CAPS);
        }
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        if (!json_is_string(c) || !known_cap(json_string_value(c))) {
            fail(g, yaml_node_with(g, json_string_value(c)), "unknown capability: %s", json_string_value(c) ? json_string_value(c) : "?");
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *sorted_union(const json_t *a, const json_t *b)
{
    size_t n = json_array_size(a) + json_array_size(b), k = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    const json_t *lists[2] = {a, b};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(lists[l], i, c) v[k++] = c;
    }
    qsort(v, k, sizeof *v, cmp_json_str);
    json_t *out = json_array();
    for (size_t i = 0; i < k; i++)
        if (i == 0 || strcmp(json_string_value(v[i]), json_string_value(v[i - 1])) != 0)
            json_array_append(out, v[i]);
    free(v);
    return out;
}

static json_t *capabilities(struct gen *g)
{
    json_t *caps;
    const json_t *y = json_object_get(g->in->entry, "capabilities");
    if (y) {
        caps = json_deep_copy(y);
    } else {
        caps = json_deep_copy(json_object_get(g->in->label, "capabilities"));
        if (!caps)
            caps = json_array();
        const json_t *add = json_object_get(g->in->entry, "capabilities.add");
        if (add)
            json_array_extend(caps, (json_t *)add);
    }
    if (!(caps = expand_caps(g, caps)))
        return NULL;
    json_t *amb = json_deep_copy(pick(g, "ambient"));
    if (!amb)
        amb = json_array();
    if (!(amb = expand_caps(g, amb))) {
        json_decref(caps);
        return NULL;
    }
    json_t *b = sorted_union(caps, amb);
    json_t *o = json_object();
    set_if_nonempty(o, "bounding", json_deep_copy(b));
    set_if_nonempty(o, "effective", caps);
    set_if_nonempty(o, "inheritable", json_deep_copy(b));
    set_if_nonempty(o, "permitted", b);
    set_if_nonempty(o, "ambient", amb);
    return o;
}

/* ---- rlimits (§7) ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int parse_u64(struct gen *g, const json_t *at, const char *s, json_int_t *out)
{
    if (strcasecmp(s, "unlimited") == 0) {
        *out = -1; /* written as 18446744073709551615 by the caller */
        return 0;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-')
        return fail(g, at, "cannot parse %s as uint64", s);
    if (v > (unsigned long long)INT64_MAX)
        return fail(g, at, "rlimit %s is too large", s);
    *out = (json_int_t)v;
    return 0;
}

/* jansson has no unsigned integers: unlimited (2^64-1) is spliced in as
 * text after dumping; this marker survives json_dumps unchanged. */
#define UNLIMITED_MARK "\"lkb-unlimited-7f3a\""

static json_t *rlimits(struct gen *g)
{
    const json_t *list = pick(g, "rlimits");
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        char *s = strdup(json_string_value(r));
        char *parts[3] = {0};
        int n = 0;
        char *p = s;
        while (n < 3 && p) {
            parts[n++] = p;
            char *c = n < 3 ? strchr(p, ',') : NULL;
            if (c)
                *c++ = '\0';
            p = c;
        }
        if (n != 3) {
            free(s);
            json_decref(out);
            fail(g, r, "cannot parse rlimit: %s (want name,soft,hard)", json_string_value(r));
            return NULL;
        }
        char name[64];
        char *nm = trim(parts[0]);
        for (char *q = nm; *q; q++)
            *q = (char)toupper((unsigned char)*q);
        snprintf(name, sizeof name, "%s%s", strncmp(nm, "RLIMIT_", 7) ? "RLIMIT_" : "", nm);
        int known = 0;
        for (size_t k = 0; k < sizeof rlimit_names / sizeof *rlimit_names; k++)
            known |= strcmp(name, rlimit_names[k]) == 0;
        json_int_t soft, hard;
        if (!known) {
            fail(g, r, "unknown limit: %s", name);
        } else if (parse_u64(g, r, trim(parts[1]), &soft) == 0 &&
                   parse_u64(g, r, trim(parts[2]), &hard) == 0) {
            json_t *o = json_object();
            json_object_set_new(o, "type", json_string(name));
            json_object_set_new(o, "hard", hard < 0 ? json_string("lkb-unlimited-7f3a")
                                                    : json_integer(hard));
            json_object_set_new(o, "soft", soft < 0 ? json_string("lkb-unlimited-7f3a")
                                                    : json_integer(soft));
            json_array_append_new(out, o);
            free(s);
            continue;
        }
        free(s);
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- mounts (§4) ---- */

struct mount_table {
    json_t *by_dest; /* destination -> mount object */
};

static json_t *mount_obj(const char *dest, const char *type, const char *src, json_t *opts)
{
    json_t *m = json_object();
    json_object_set_new(m, "destination", json_string(dest));
    if (type && *type)
        json_object_set_new(m, "type", json_string(type));
    if (src && *src)
        json_object_set_new(m, "source", json_string(src));
    if (opts)
        json_object_set_new(m, "options", opts);
    return m;
}

static json_t *split_opts(const char *s, const char *append)
{
    json_t *a = json_array();
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(a, json_string(t));
    free(copy);
    if (append)
        json_array_append_new(a, json_string(append));
    return a;
}

static const json_t *find_volume(const struct lkb_config *cfg, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(cfg->volumes, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n && strcmp(n, name) == 0)
            return v;
    }
    return NULL;
}

/* A YAML bind/mount source that is not absolute names a volume (§4.5). */
static int volume_source(struct gen *g, const json_t *at, const char *src, int ro_ok,
                         char **out)
{
    const json_t *vol = find_volume(g->in->cfg, src);
    if (!vol)
        return fail(g, at, "volume %s not found", src);
    if (json_is_true(json_object_get(vol, "readonly")) && !ro_ok)
        return fail(g, at, "volume %s is read-only, but attempting to write into container "
                           "read-write",
                    src);
    if (!(*out = lkb_strf("/containers/volumes/%s/merged", src)))
        return fail(g, at, "out of memory");
    return 0;
}

static int add_binds(struct gen *g, json_t *table, const json_t *list, int from_yaml)
{
    size_t i;
    json_t *b;
    json_array_foreach(list, i, b)
    {
        const char *s = json_string_value(b);
        char *copy = strdup(s);
        char *parts[4] = {0};
        int n = 0;
        for (char *p = copy; p && n < 4;) {
            parts[n++] = p;
            char *c = strchr(p, ':');
            if (c)
                *c++ = '\0';
            p = c;
        }
        if (n < 2 || n > 3) {
            free(copy);
            return fail(g, b, n < 2 ? "cannot parse bind, missing ':': %s"
                                    : "cannot parse bind, too many ':': %s",
                        s);
        }
        char *vsrc = NULL;
        if (from_yaml && parts[0][0] != '/' &&
            volume_source(g, b, parts[0], n == 3 && strcmp(parts[2], "ro") == 0, &vsrc) < 0) {
            free(copy);
            return -1;
        }
        json_t *opts = n == 3 ? split_opts(parts[2], "rbind") : split_opts("rw,rbind,rshared", NULL);
        json_object_set_new(table, parts[1],
                            mount_obj(parts[1], "bind", vsrc ? vsrc : parts[0], opts));
        free(vsrc);
        free(copy);
    }
    return 0;
}

static int add_mount_objects(struct gen *g, json_t *table, const json_t *list, int from_yaml)
{
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *dest = json_string_value(json_object_get(m, "destination"));
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *src = json_string_value(json_object_get(m, "source"));
        dest = dest ? dest : "";
        type = type ? type : "";
        src = src ? src : "";
        static const char *const self[] = {"mqueue", "devpts", "proc", "sysfs", "cgroup"};
        if (!*type) {
            for (size_t k = 0; k < 5; k++)
                if (strcmp(src, self[k]) == 0)
                    type = src;
            if (!*type && strcmp(dest, "/dev") == 0)
                type = "tmpfs";
            if (!*type)
                return fail(g, m, "mount for destination %s is missing type", dest);
        }
        if (!*src)
            src = type;
        if (!*dest) {
            static const char *const defs[][2] = {{"proc", "/proc"}, {"devpts", "/dev/pts"},
                                                  {"sysfs", "/sys"}, {"cgroup", "/sys/fs/cgroup"},
                                                  {"mqueue", "/dev/mqueue"}};
            for (size_t k = 0; k < 5; k++)
                if (strcmp(type, defs[k][0]) == 0)
                    dest = defs[k][1];
            if (!*dest)
                return fail(g, m, "mount type %s is missing destination", type);
        }
        char *vsrc = NULL;
        const json_t *opts = json_object_get(m, "options");
        if (from_yaml && strcmp(type, "bind") == 0 && src[0] != '/') {
            /* For a read-only volume the first rw/ro option must be ro. */
            int ro = 0;
            size_t k;
            json_t *o;
            json_array_foreach(opts, k, o)
            {
                const char *os = json_string_value(o);
                if (!strcmp(os, "ro") || !strcmp(os, "rw")) {
                    ro = !strcmp(os, "ro");
                    break;
                }
            }
            if (volume_source(g, m, src, ro, &vsrc) < 0)
                return -1;
            src = vsrc;
        }
        json_object_set_new(table, dest,
                            mount_obj(dest, type, src, opts ? json_deep_copy(opts) : NULL));
        free(vsrc);
    }
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Objects with keys sorted byte-wise (mount order, map fields). */
static json_t *sorted_values(const json_t *table, int as_object)
{
    size_t n = json_object_size(table), k = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)table, key, v) keys[k++] = key;
    qsort(keys, k, sizeof *keys, cmp_keys);
    json_t *out = as_object ? json_object() : json_array();
    for (size_t i = 0; i < k; i++) {
        if (as_object)
            json_object_set(out, keys[i], json_object_get(table, keys[i]));
        else
            json_array_append(out, json_object_get(table, keys[i]));
    }
    free(keys);
    return out;
}

static json_t *mounts(struct gen *g, bool readonly)
{
    json_t *t = json_object();
    json_object_set_new(t, "/proc", mount_obj("/proc", "proc", "proc",
                                              split_opts("nosuid,nodev,noexec,relatime", NULL)));
    json_object_set_new(t, "/dev",
                        mount_obj("/dev", "tmpfs", "tmpfs",
                                  split_opts("nosuid,strictatime,mode=755,size=65536k",
                                             readonly ? "ro" : NULL)));
    json_object_set_new(
        t, "/dev/pts",
        mount_obj("/dev/pts", "devpts", "devpts",
                  split_opts("nosuid,noexec,newinstance,ptmxmode=0666,mode=0620", NULL)));
    json_object_set_new(t, "/sys",
                        mount_obj("/sys", "sysfs", "sysfs",
                                  split_opts("nosuid,noexec,nodev", readonly ? "ro" : NULL)));
    json_object_set_new(t, "/sys/fs/cgroup",
                        mount_obj("/sys/fs/cgroup", "cgroup", "cgroup",
                                  split_opts("nosuid,noexec,nodev,relatime,ro", NULL)));
    size_t i;
    json_t *s;
    json_array_foreach(pick(g, "tmpfs"), i, s)
    {
        const char *str = json_string_value(s);
        const char *c = strchr(str, ':');
        if (c && strchr(c + 1, ':')) {
            json_decref(t);
            fail(g, s, "cannot parse tmpfs, too many ':': %s", str);
            return NULL;
        }
        char *dest = c ? strndup(str, (size_t)(c - str)) : strdup(str);
        json_object_set_new(t, dest, mount_obj(dest, "tmpfs", "tmpfs", c ? split_opts(c + 1, NULL) : NULL));
        free(dest);
    }
    /* binds: YAML binds, else label binds followed by YAML binds.add. */
    const json_t *yb = json_object_get(g->in->entry, "binds");
    int rc = 0;
    if (yb) {
        rc = add_binds(g, t, yb, 1);
    } else {
        rc = add_binds(g, t, json_object_get(g->in->label, "binds"), 0);
        if (rc == 0)
            rc = add_binds(g, t, json_object_get(g->in->entry, "binds.add"), 1);
    }
    if (rc == 0) {
        const json_t *ym = json_object_get(g->in->entry, "mounts");
        rc = ym ? add_mount_objects(g, t, ym, 1)
                : add_mount_objects(g, t, json_object_get(g->in->label, "mounts"), 0);
    }
    if (rc < 0) {
        json_decref(t);
        return NULL;
    }
    json_t *out = sorted_values(t, 0);
    json_decref(t);
    return out;
}

/* ---- namespaces (§5) ---- */

static json_t *namespaces(struct gen *g)
{
    static const struct {
        const char *key, *type;
        int new_by_default;
        int none_is_new;
    } ns[] = {{"net", "network", 0, 1}, {"ipc", "ipc", 0, 0}, {"uts", "uts", 0, 0},
              {"pid", "pid", 1, 0},     {"userns", "user", 0, 0}};
    json_t *out = json_array();
    for (size_t i = 0; i < 5; i++) {
        const char *v = pick_str(g, ns[i].key);
        json_t *o = NULL;
        if (!v) {
            if (ns[i].new_by_default)
                o = json_pack("{s:s}", "type", ns[i].type);
        } else if (!strcmp(v, "host") || !strcmp(v, "root")) {
            o = NULL;
        } else if (!strcmp(v, "new") || (ns[i].none_is_new && !strcmp(v, "none"))) {
            o = json_pack("{s:s}", "type", ns[i].type);
        } else {
            o = json_pack("{s:s,s:s}", "type", ns[i].type, "path", v);
        }
        if (o)
            json_array_append_new(out, o);
    }
    json_array_append_new(out, json_pack("{s:s}", "type", "mount"));
    return out;
}

/* ---- resources and devices (§8) ---- */

static json_t *ordered(const json_t *src, const char *const *keys, const char *const *out_keys)
{
    json_t *o = json_object();
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (v)
            json_object_set(o, out_keys ? out_keys[i] : keys[i], v);
    }
    return o;
}

static json_t *resources(struct gen *g, json_t **linux_devices)
{
    const json_t *r = pick(g, "resources");
    static const char *const top_in[] = {"devices", "memory", "cpu", "pids", "blockio",
                                         "hugepageLimits", "network", NULL};
    static const char *const top_out[] = {"devices", "memory", "cpu", "pids", "blockIO",
                                          "hugepageLimits", "network", NULL};
    json_t *res = ordered(r, top_in, top_out);
    static const char *const mem[] = {"limit", "reservation", "swap", "kernel", "kernelTCP",
                                      "swappiness", "disableOOMKiller", NULL};
    static const char *const cpu[] = {"shares", "quota", "burst", "period", "realtimeRuntime",
                                      "realtimePeriod", "cpus", "mems", "idle", NULL};
    if (json_object_get(res, "memory"))
        json_object_set_new(res, "memory", ordered(json_object_get(res, "memory"), mem, NULL));
    if (json_object_get(res, "cpu"))
        json_object_set_new(res, "cpu", ordered(json_object_get(res, "cpu"), cpu, NULL));
    static const char *const cg_keys[] = {"allow", "type", "major", "minor", "access", NULL};
    json_t *cgdev = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(res, "devices"), i, d)
        json_array_append_new(cgdev, ordered(d, cg_keys, NULL));
    *linux_devices = json_array();
    json_array_foreach(pick(g, "devices"), i, d)
    {
        const char *path = json_string_value(json_object_get(d, "path"));
        const char *type = json_string_value(json_object_get(d, "type"));
        json_t *cg = json_object();
        json_object_set_new(cg, "allow", json_true());
        if (type && *type)
            json_object_set_new(cg, "type", json_string(type));
        if (path && strcmp(path, "all") == 0) {
            json_object_set_new(cg, "access", json_string("rwm"));
            json_array_append_new(cgdev, cg);
            continue;
        }
        const char *mode = json_string_value(json_object_get(d, "mode"));
        long m = mode ? lkb_config_parse_mode(mode) : -1;
        if (m < 0) {
            json_decref(cg);
            json_decref(cgdev);
            json_decref(res);
            json_decref(*linux_devices);
            fail(g, d, "cannot parse device mode as octal value: %s", mode ? mode : "");
            return NULL;
        }
        json_t *maj = json_object_get(d, "major"), *min = json_object_get(d, "minor");
        json_t *ld = json_object();
        json_object_set_new(ld, "path", json_string(path ? path : ""));
        json_object_set_new(ld, "type", json_string(type ? type : ""));
        json_object_set_new(ld, "major", json_integer(json_integer_value(maj)));
        json_object_set_new(ld, "minor", json_integer(json_integer_value(min)));
        json_object_set_new(ld, "fileMode", json_integer(m));
        json_array_append_new(*linux_devices, ld);
        json_object_set_new(cg, "major", json_integer(json_integer_value(maj)));
        json_object_set_new(cg, "minor", json_integer(json_integer_value(min)));
        json_object_set_new(cg, "access", json_string("rwm"));
        json_array_append_new(cgdev, cg);
    }
    if (json_array_size(cgdev)) {
        /* Keep "devices" first, as Go's struct order does. */
        json_t *r2 = json_object();
        json_object_set_new(r2, "devices", cgdev);
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v) if (strcmp(k, "devices") != 0) json_object_set(r2, k, v);
        json_decref(res);
        res = r2;
    } else {
        json_decref(cgdev);
        json_object_del(res, "devices");
    }
    return res;
}

static json_t *idmaps(const json_t *list)
{
    static const char *const keys[] = {"containerID", "hostID", "size", NULL};
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) json_array_append_new(out, ordered(m, keys, NULL));
    return out;
}

/* ---- the two documents ---- */

static int resolve(struct gen *g, const json_t *v, uint32_t *id)
{
    if (lkb_config_resolve_id(g->in->cfg, v, id, g->err) < 0)
        return lkb_error_prefix(g->err, "%s: ", g->who);
    return 0;
}

static json_t *config_json(struct gen *g)
{
    const struct lkb_runtime_input *in = g->in;
    bool ro = lkb_runtime_readonly(in->entry, in->label);
    json_t *doc = json_object();
    json_object_set_new(doc, "ociVersion", json_string("1.2.1"));

    json_t *proc = json_object();
    json_object_set_new(doc, "process", proc);
    json_t *user = json_object();
    json_object_set_new(proc, "user", user);
    uint32_t uid, gid;
    if (resolve(g, pick(g, "uid"), &uid) < 0 || resolve(g, pick(g, "gid"), &gid) < 0)
        goto fail;
    json_object_set_new(user, "uid", json_integer(uid));
    json_object_set_new(user, "gid", json_integer(gid));
    json_t *agids = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(pick(g, "additionalGids"), i, v)
    {
        uint32_t id;
        if (resolve(g, v, &id) < 0) {
            json_decref(agids);
            goto fail;
        }
        json_array_append_new(agids, json_integer(id));
    }
    set_if_nonempty(user, "additionalGids", agids);

    const json_t *ic = in->image_config;
    const json_t *cmd = pick(g, "command");
    json_t *args;
    if (cmd) {
        args = json_deep_copy(cmd);
    } else {
        args = json_array();
        if (json_is_array(json_object_get(ic, "Entrypoint")))
            json_array_extend(args, json_object_get(ic, "Entrypoint"));
        if (json_is_array(json_object_get(ic, "Cmd")))
            json_array_extend(args, json_object_get(ic, "Cmd"));
    }
    set_if_nonempty(proc, "args", args);
    const json_t *env = pick(g, "env");
    set_if_nonempty(proc, "env", json_deep_copy(env ? env : json_object_get(ic, "Env")));
    const char *cwd = pick_str(g, "cwd");
    if (!cwd) {
        cwd = json_string_value(json_object_get(ic, "WorkingDir"));
        if (cwd && !*cwd)
            cwd = NULL;
    }
    json_object_set_new(proc, "cwd", json_string(cwd ? cwd : "/"));
    json_t *caps = capabilities(g);
    if (!caps)
        goto fail;
    json_object_set_new(proc, "capabilities", caps);
    json_t *rl = rlimits(g);
    if (!rl)
        goto fail;
    set_if_nonempty(proc, "rlimits", rl);
    if (json_is_true(pick(g, "noNewPrivileges")))
        json_object_set_new(proc, "noNewPrivileges", json_true());
    if (json_is_integer(pick(g, "oomScoreAdj")))
        json_object_set(proc, "oomScoreAdj", (json_t *)pick(g, "oomScoreAdj"));

    json_t *root = json_pack("{s:s}", "path", "rootfs");
    if (ro)
        json_object_set_new(root, "readonly", json_true());
    json_object_set_new(doc, "root", root);
    const char *host = pick_str(g, "hostname");
    if (host)
        json_object_set_new(doc, "hostname", json_string(host));
    json_t *m = mounts(g, ro);
    if (!m)
        goto fail;
    json_object_set_new(doc, "mounts", m);
    const json_t *ann = pick(g, "annotations");
    if (ann)
        set_if_nonempty(doc, "annotations", sorted_values(ann, 1));

    json_t *lx = json_object();
    json_object_set_new(doc, "linux", lx);
    set_if_nonempty(lx, "uidMappings", idmaps(pick(g, "uidMappings")));
    set_if_nonempty(lx, "gidMappings", idmaps(pick(g, "gidMappings")));
    const json_t *sys = pick(g, "sysctl");
    if (sys)
        set_if_nonempty(lx, "sysctl", sorted_values(sys, 1));
    json_t *ldev;
    json_t *res = resources(g, &ldev);
    if (!res)
        goto fail;
    json_object_set_new(lx, "resources", res);
    const char *cgp = pick_str(g, "cgroupsPath");
    if (cgp)
        json_object_set_new(lx, "cgroupsPath", json_string(cgp));
    json_object_set_new(lx, "namespaces", namespaces(g));
    set_if_nonempty(lx, "devices", ldev);
    const char *prop = pick_str(g, "rootfsPropagation");
    if (prop)
        json_object_set_new(lx, "rootfsPropagation", json_string(prop));
    set_if_nonempty(lx, "maskedPaths", json_deep_copy(pick(g, "maskedPaths")));
    set_if_nonempty(lx, "readonlyPaths", json_deep_copy(pick(g, "readonlyPaths")));
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

static json_t *runtime_json(struct gen *g)
{
    const struct lkb_runtime_input *in = g->in;
    const json_t *yr = json_object_get(in->entry, "runtime");
    const json_t *lr = json_object_get(in->label, "runtime");
#define RT(key) (json_object_get(yr, key) ? json_object_get(yr, key) : json_object_get(lr, key))
    json_t *doc = json_object();
    json_object_set_new(doc, "cgroups", RT("cgroups") ? json_deep_copy(RT("cgroups")) : json_array());
    json_t *mounts_arr = json_array();
    int oom = 0;
    if (lkb_runtime_readonly(in->entry, in->label)) {
        char *d = lkb_strf("/%s/rootfs", in->bundle_dir), *a = lkb_strf("/%s", in->root_dir);
        oom = !d || !a;
        if (!oom)
            json_array_append_new(mounts_arr, json_pack("{s:s,s:s,s:[s]}", "destination", d,
                                                        "source", a, "options", "bind"));
        free(d), free(a);
    } else {
        char *d = lkb_strf("/%s/tmp", in->bundle_dir);
        oom = !d;
        if (d) {
            json_array_append_new(mounts_arr, json_pack("{s:s,s:s,s:s}", "destination", d,
                                                        "type", "tmpfs", "source", "tmpfs"));
            json_array_append_new(mounts_arr, json_pack("{s:s,s:[s,s]}", "destination", d,
                                                        "options", "remount", "private"));
        }
        free(d);
        d = lkb_strf("/%s/rootfs", in->bundle_dir);
        char *a = lkb_strf("lowerdir=/%s", in->root_dir);
        char *b = lkb_strf("upperdir=/%s/tmp/upper", in->bundle_dir);
        char *w = lkb_strf("workdir=/%s/tmp/work", in->bundle_dir);
        oom |= !d || !a || !b || !w;
        if (!oom)
            json_array_append_new(mounts_arr,
                                  json_pack("{s:s,s:s,s:s,s:[s,s,s]}", "destination", d, "type",
                                            "overlay", "source", "overlay", "options", a, b, w));
        free(d), free(a), free(b), free(w);
    }
    if (oom) {
        json_decref(mounts_arr);
        json_decref(doc);
        lkb_error_set(g->err, LKB_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    if (RT("mounts")) {
        size_t i;
        json_t *m;
        /* Same defaulting as config.json mounts, order kept. */
        json_array_foreach(RT("mounts"), i, m)
        {
            json_t *t = json_object();
            json_t *one = json_array();
            json_array_append(one, m);
            if (add_mount_objects(g, t, one, 0) < 0) {
                json_decref(one);
                json_decref(t);
                json_decref(mounts_arr);
                json_decref(doc);
                return NULL;
            }
            const char *k;
            json_t *v;
            json_object_foreach(t, k, v) json_array_append(mounts_arr, v);
            json_decref(one);
            json_decref(t);
        }
    }
    json_object_set_new(doc, "mounts", mounts_arr);
    json_object_set_new(doc, "mkdir", RT("mkdir") ? json_deep_copy(RT("mkdir")) : json_array());
    json_t *ifs = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(RT("interfaces"), i, f)
    {
        json_t *o = json_object();
        static const char *const k[] = {"name", "add", "peer"};
        for (int j = 0; j < 3; j++) {
            const char *s = json_string_value(json_object_get(f, k[j]));
            if (s && *s)
                json_object_set_new(o, k[j], json_string(s));
        }
        json_object_set_new(o, "createInRoot",
                            json_boolean(json_is_true(json_object_get(f, "createInRoot"))));
        json_array_append_new(ifs, o);
    }
    json_object_set_new(doc, "interfaces", ifs);
    json_t *bns = json_object();
    static const char *const nsk[] = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
    for (int j = 0; j < 7; j++) {
        const char *s = json_string_value(json_object_get(json_object_get(yr, "bindNS"), nsk[j]));
        if (!s || !*s)
            s = json_string_value(json_object_get(json_object_get(lr, "bindNS"), nsk[j]));
        json_object_set_new(bns, nsk[j], json_string(s ? s : ""));
    }
    json_object_set_new(doc, "bindNS", bns);
    const char *ns = json_string_value(RT("namespace"));
    json_object_set_new(doc, "namespace", json_string(ns ? ns : ""));
#undef RT
    return doc;
}

/* Dump, splicing 2^64-1 for "unlimited" rlimits. */
static char *dump(const json_t *doc)
{
    char *s = lkb_json_go_dumps(doc);
    if (!s || !strstr(s, UNLIMITED_MARK))
        return s;
    static const char num[] = "18446744073709551615";
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out) {
        free(s);
        return NULL;
    }
    for (const char *p = s; *p;) {
        if (strncmp(p, UNLIMITED_MARK, strlen(UNLIMITED_MARK)) == 0) {
            memcpy(o, num, strlen(num));
            o += strlen(num);
            p += strlen(UNLIMITED_MARK);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    free(s);
    return out;
}

int lkb_runtime_bundle_files(const struct lkb_runtime_input *in, char **config_out,
                             char **runtime_out, struct lkb_error *err)
{
    struct gen g = {.in = in, .err = err};
    snprintf(g.who, sizeof g.who, "%s[%zu] \"%s\"", in->section, in->index,
             json_string_value(json_object_get(in->entry, "name")));
    json_t *c = config_json(&g);
    if (!c)
        return -1;
    json_t *r = runtime_json(&g);
    if (!r) {
        json_decref(c);
        return -1;
    }
    *config_out = dump(c);
    *runtime_out = dump(r);
    json_decref(c);
    json_decref(r);
    if (!*config_out || !*runtime_out) {
        free(*config_out);
        free(*runtime_out);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}
