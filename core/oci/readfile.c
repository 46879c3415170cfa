/* Reading one file out of an image without unpacking it: layers are
 * scanned topmost first and the first layer that has (or hides) the path
 * decides. OCI whiteouts (.wh.NAME) and opaque directories (.wh..wh..opq)
 * hide lower layers; symlinks and hard links are followed inside the
 * image. */
#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/internal.h"

/* Clean an in-image path: no leading "/" or "./", no "." or empty
 * components, ".." resolved (never above the root). False when the result
 * does not fit (it is then unusable, never silently shortened). */
static bool clean_name(const char *in, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *s = in; *s;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0)
            break;
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[--o] != '/')
                ;
            out[o] = '\0';
        } else if (!(n == 1 && s[0] == '.')) {
            if (o + n + 2 > size)
                return false;
            if (o)
                out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
            out[o] = '\0';
        }
        s += n;
    }
    return true;
}

/* Is A a proper ancestor directory of B ("" is the root)? */
static bool is_ancestor(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n == 0)
        return *b != '\0';
    return strncmp(a, b, n) == 0 && b[n] == '/';
}

static int read_data(struct archive *a, struct archive_entry *e, void **data, size_t *len,
                     struct lkb_error *err)
{
    size_t cap = archive_entry_size_is_set(e) ? (size_t)archive_entry_size(e) + 1 : 4096;
    char *buf = malloc(cap ? cap : 1);
    size_t n = 0;
    for (;;) {
        if (!buf)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        la_ssize_t r = archive_read_data(a, buf + n, cap - n - 1);
        if (r < 0) {
            lkb_error_set(err, LKB_ERR_BUILD, "reading layer: %s", archive_error_string(a));
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

enum scan_result { SCAN_FOUND, SCAN_REDIRECT, SCAN_HIDDEN, SCAN_ABSENT, SCAN_ERROR };

/* Follow a link: its cleaned target replaces the path being looked up. */
static enum scan_result redirect(struct lkb_image *im, const char *to, bool fits, char *target,
                                 size_t tsize, struct lkb_error *err)
{
    if (fits && clean_name(to, target, tsize))
        return SCAN_REDIRECT;
    lkb_error_set(err, LKB_ERR_BUILD, "%s: a link to a path longer than %zu bytes", im->ref,
                  tsize - 1);
    return SCAN_ERROR;
}

/* Look for TARGET in one layer. On SCAN_REDIRECT, target is rewritten (a
 * symlink or hard link on the way). */
static enum scan_result scan_layer(struct lkb_image *im, size_t layer, char *target, size_t tsize,
                                   void **data, size_t *len, struct lkb_error *err)
{
    struct archive *a;
    if (lkb_oci_layer_open(im, layer, &a, err) < 0)
        return SCAN_ERROR;
    enum scan_result res = SCAN_ABSENT;
    struct archive_entry *e;
    char name[PATH_MAX], tmp[PATH_MAX * 2];
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (!clean_name(archive_entry_pathname(e), name, sizeof name))
            continue; /* longer than any target can be */
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        size_t dirlen = (size_t)(base - name) ? (size_t)(base - name) - 1 : 0;
        if (strncmp(base, ".wh.", 4) == 0) {
            char hidden[PATH_MAX];
            if (strcmp(base, ".wh..wh..opq") == 0)
                snprintf(hidden, sizeof hidden, "%.*s", (int)dirlen, name); /* shorter */
            else
                snprintf(hidden, sizeof hidden, "%.*s%s%s", (int)dirlen, name, dirlen ? "/" : "",
                         base + 4); /* name less ".wh.": shorter too */
            bool opaque = strcmp(base, ".wh..wh..opq") == 0;
            if ((opaque && is_ancestor(hidden, target)) ||
                (!opaque && (strcmp(hidden, target) == 0 || is_ancestor(hidden, target))))
                res = SCAN_HIDDEN; /* unless the path itself is in this layer */
            continue;
        }
        const char *hl = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);
        if (strcmp(name, target) == 0) {
            if (hl) {
                res = redirect(im, hl, true, target, tsize, err);
            } else if (type == AE_IFREG) {
                res = read_data(a, e, data, len, err) < 0 ? SCAN_ERROR : SCAN_FOUND;
            } else if (type == AE_IFLNK) {
                const char *link = archive_entry_symlink(e);
                const char *slash = strrchr(target, '/');
                int w = link[0] == '/' || !slash
                            ? snprintf(tmp, sizeof tmp, "%s", link)
                            : snprintf(tmp, sizeof tmp, "%.*s/%s", (int)(slash - target), target,
                                       link);
                res = redirect(im, tmp, w < (int)sizeof tmp, target, tsize, err);
            } else {
                lkb_error_set(err, LKB_ERR_BUILD, "%s: /%s is not a regular file", im->ref,
                              target);
                res = SCAN_ERROR;
            }
            break;
        }
        if (is_ancestor(name, target)) {
            if (type == AE_IFLNK) {
                /* A symlinked directory on the way: splice its target in. */
                const char *link = archive_entry_symlink(e);
                const char *rest = target + strlen(name);
                int w = link[0] == '/'
                            ? snprintf(tmp, sizeof tmp, "%s%s", link, rest)
                            : snprintf(tmp, sizeof tmp, "%.*s%s%s%s", (int)dirlen, name,
                                       dirlen ? "/" : "", link, rest);
                res = redirect(im, tmp, w < (int)sizeof tmp, target, tsize, err);
                break;
            }
            if (type != AE_IFDIR && !hl) {
                res = SCAN_HIDDEN; /* a file where a directory would be */
                break;
            }
        }
    }
    if (r == ARCHIVE_FATAL && res != SCAN_ERROR) {
        lkb_error_set(err, LKB_ERR_BUILD, "%s: layer %s: %s", im->ref, im->layers[layer].digest,
                      archive_error_string(a));
        res = SCAN_ERROR;
    }
    archive_read_free(a);
    return res;
}

int lkb_image_read_file(struct lkb_image *im, const char *path, void **data, size_t *len,
                        struct lkb_error *err)
{
    *data = NULL;
    *len = 0;
    char target[PATH_MAX];
    if (!clean_name(path, target, sizeof target))
        return lkb_error_set(err, LKB_ERR_BUILD, "%s: path too long: %.64s…", im->ref, path);
    if (!target[0])
        return lkb_error_set(err, LKB_ERR_BUILD, "%s: cannot read the root directory", im->ref);
    for (int hops = 0; hops < 40; hops++) {
        bool redirected = false;
        for (size_t i = im->n_layers; i-- > 0 && !redirected;) {
            switch (scan_layer(im, i, target, sizeof target, data, len, err)) {
            case SCAN_FOUND:
                return 0;
            case SCAN_HIDDEN:
                return 1;
            case SCAN_ERROR:
                return -1;
            case SCAN_REDIRECT:
                redirected = true;
                break;
            case SCAN_ABSENT:
                break;
            }
        }
        if (!redirected)
            return 1;
        if (!target[0])
            return lkb_error_set(err, LKB_ERR_BUILD, "%s: %s resolves to the root directory",
                                 im->ref, path);
    }
    return lkb_error_set(err, LKB_ERR_BUILD, "%s: too many levels of links resolving %s",
                         im->ref, path);
}

int lkb_oci_image_read_file(struct lkb_cache *cache, const char *ref, const char *arch,
                            const char *path, void **data, size_t *len, struct lkb_error *err)
{
    struct lkb_image *im;
    *data = NULL;
    *len = 0;
    if (lkb_oci_image_open(cache, ref, arch, &im, err) < 0)
        return -1;
    int rc = lkb_image_read_file(im, path, data, len, err);
    lkb_image_free(im);
    return rc;
}
