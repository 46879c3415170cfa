#include <lkb/disk/assets.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

int lkb_disk_read_file(const char *path, unsigned char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = errno == 0 || S_ISDIR(st.st_mode) ? EISDIR : errno;
        fclose(f);
        errno = e;
        return -1;
    }
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        int e = buf ? EIO : ENOMEM;
        free(buf);
        fclose(f);
        errno = e;
        return -1;
    }
    fclose(f);
    buf[st.st_size] = '\0';
    *data = buf;
    *size = (size_t)st.st_size;
    return 0;
}

/* Append printf output to a growing string; -1 on OOM. */
static int appendf(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int appendf(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *ns = n < 0 ? NULL : realloc(*s, *len + (size_t)n + 1);
    if (!ns)
        return -1;
    va_start(ap, fmt);
    vsnprintf(ns + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = ns;
    *len += (size_t)n;
    return 0;
}

/* Look for one asset in its group's place; `looked` gets where. */
static int find_one(const struct lkb_asset_lookup *l, const struct lkb_asset_want *w,
                    struct lkb_asset *a, char **looked, size_t *llen)
{
    const struct lkb_asset_group *g = &l->groups[w->group];
    if (g->dir) {
        char *path = NULL;
        size_t pl = 0;
        if (appendf(&path, &pl, "%s/%s", g->dir, w->name) < 0 ||
            appendf(looked, llen, "%s", path) < 0) {
            free(path);
            return -1;
        }
        int found = lkb_disk_read_file(path, &a->data, &a->size) == 0;
        free(path);
        return found;
    }
    if (l->image && l->api) {
        char *path = NULL;
        size_t pl = 0;
        if (appendf(&path, &pl, "%s/%s", g->image_dir ? g->image_dir : "", w->name) < 0 ||
            appendf(looked, llen, "/%s in image %s", path + (path[0] == '/'), l->image) < 0) {
            free(path);
            return -1;
        }
        void *d = NULL;
        size_t n = 0;
        int found = l->api->image_read_file(l->host, l->image, path + (path[0] == '/'), &d, &n) ==
                    LKB_OK;
        free(path);
        if (found) {
            a->data = d;
            a->size = n;
            a->host_owned = 1;
        }
        return found;
    }
    for (const char *p = g->default_dirs; p && *p;) {
        const char *colon = strchr(p, ':');
        int dl = (int)(colon ? (size_t)(colon - p) : strlen(p));
        char *path = NULL;
        size_t pl = 0;
        if (appendf(&path, &pl, "%.*s/%s", dl, p, w->name) < 0 ||
            appendf(looked, llen, "%s%s", *llen ? ", " : "", path) < 0) {
            free(path);
            return -1;
        }
        int found = lkb_disk_read_file(path, &a->data, &a->size) == 0;
        free(path);
        if (found)
            return 1;
        p = colon ? colon + 1 : p + dl;
    }
    if (!*llen && appendf(looked, llen, "nowhere: no directory, image or default directory") < 0)
        return -1;
    return 0;
}

int lkb_assets_find(const struct lkb_asset_lookup *l, const struct lkb_asset_want *want,
                    size_t n_want, struct lkb_assets *out, struct lkb_disk_error *err)
{
    memset(out, 0, sizeof *out);
    out->api = l->api;
    out->items = calloc(n_want ? n_want : 1, sizeof *out->items);
    if (!out->items)
        return disk_error(err, "out of memory");
    char *missing = NULL;
    size_t mlen = 0;
    int oom = 0;
    for (size_t i = 0; !oom && i < n_want; i++) {
        if (want[i].group >= l->n_groups) {
            lkb_assets_free(out);
            free(missing);
            return disk_error(err, "asset %s: no group %zu", want[i].name, want[i].group);
        }
        struct lkb_asset *a = &out->items[out->n];
        memset(a, 0, sizeof *a);
        a->name = want[i].name;
        a->want = i;
        char *looked = NULL;
        size_t llen = 0;
        int found = find_one(l, &want[i], a, &looked, &llen);
        if (found < 0)
            oom = 1;
        else if (found)
            out->n++;
        else if (want[i].required &&
                 appendf(&missing, &mlen, "\n  %s (looked at %s)", want[i].name, looked) < 0)
            oom = 1;
        free(looked);
    }
    if (oom || mlen) {
        if (oom)
            disk_error(err, "out of memory");
        else
            disk_error(err, "missing %s:%s%s%s", l->what ? l->what : "boot assets", missing,
                       l->hint ? "\n" : "", l->hint ? l->hint : "");
        free(missing);
        lkb_assets_free(out);
        return -1;
    }
    return 0;
}

const struct lkb_asset *lkb_assets_get(const struct lkb_assets *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].name, name) == 0)
            return &a->items[i];
    return NULL;
}

void lkb_assets_free(struct lkb_assets *a)
{
    for (size_t i = 0; a->items && i < a->n; i++) {
        if (a->items[i].host_owned)
            a->api->free(a->items[i].data);
        else
            free(a->items[i].data);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}
