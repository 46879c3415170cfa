#include "pipeline/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rootfs/image.h"
#include "util/fs.h"
#include "util/str.h"

/* dirMode: add x wherever a class has any bit (0644 -> 0755). */
static uint32_t dir_mode(uint32_t m)
{
    if (m & 0700)
        m |= 0100;
    if (m & 070)
        m |= 010;
    if (m & 07)
        m |= 01;
    return m;
}

/* `source` paths: "~/" is $HOME, others are relative to the working
 * directory (LinuxKit's rule). */
static char *source_path(const char *src)
{
    const char *home = getenv("HOME");
    return strncmp(src, "~/", 2) == 0 && home ? lkb_strf("%s/%s", home, src + 2) : strdup(src);
}

static int file_entry_at(struct lkb_tree *root, const struct lkb_config *cfg, const json_t *f,
                         const char *spath, char ***emitted, size_t *n_emitted,
                         struct lkb_error *err);

static int file_entry(struct lkb_tree *root, const struct lkb_config *cfg, const json_t *f,
                      char ***emitted, size_t *n_emitted, struct lkb_error *err)
{
    const char *source = json_string_value(json_object_get(f, "source"));
    char *spath = source ? source_path(source) : NULL;
    if (source && !spath)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    struct stat st;
    if (source && json_is_true(json_object_get(f, "optional")) && stat(spath, &st) != 0) {
        free(spath);
        return 0;
    }
    int rc = file_entry_at(root, cfg, f, spath, emitted, n_emitted, err);
    free(spath);
    return rc;
}

static int file_entry_at(struct lkb_tree *root, const struct lkb_config *cfg, const json_t *f,
                         const char *spath, char ***emitted, size_t *n_emitted,
                         struct lkb_error *err)
{
    const char *path = json_string_value(json_object_get(f, "path"));
    const char *source = spath;
    char where[256];
    lkb_config_where(cfg, f, where, sizeof where);
    char *clean;
    if (lkb_tree_clean_path(path, &clean, err) < 0)
        return lkb_error_prefix(err, "%s: file %s: ", where, path);
    int dir = json_is_true(json_object_get(f, "directory"));
    const char *sym = json_string_value(json_object_get(f, "symlink"));
    const char *mode_s = json_string_value(json_object_get(f, "mode"));
    uint32_t mode = mode_s ? (uint32_t)lkb_config_parse_mode(mode_s) : dir ? 0700 : 0600;
    uint32_t uid, gid;
    if (lkb_config_resolve_id(cfg, json_object_get(f, "uid"), &uid, err) < 0 ||
        lkb_config_resolve_id(cfg, json_object_get(f, "gid"), &gid, err) < 0) {
        free(clean);
        return -1;
    }
    /* Parents not yet emitted by this section get dirMode and the
     * entry's owner (LinuxKit's rule). */
    int rc = 0;
    for (char *s = strchr(clean, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
        *s = '\0';
        int seen = 0;
        for (size_t i = 0; i < *n_emitted && !seen; i++)
            seen = strcmp((*emitted)[i], clean) == 0;
        if (!seen) {
            rc = lkb_tree_add_dir(root, clean, dir_mode(mode), uid, gid, LKB_DEFAULT_MTIME, err);
            char **ne = realloc(*emitted, (*n_emitted + 1) * sizeof *ne);
            if (ne) {
                *emitted = ne;
                ne[(*n_emitted)++] = strdup(clean);
            }
        }
        *s = '/';
    }
    if (rc == 0) {
        if (dir) {
            rc = lkb_tree_add_dir(root, clean, mode, uid, gid, LKB_DEFAULT_MTIME, err);
        } else if (sym) {
            rc = lkb_tree_add_symlink(root, clean, sym, mode, uid, gid, LKB_DEFAULT_MTIME, err);
        } else {
            char *data = NULL;
            size_t len = 0;
            const char *contents = json_string_value(json_object_get(f, "contents"));
            const char *meta = json_string_value(json_object_get(f, "metadata"));
            if (contents) {
                data = strdup(contents);
                len = strlen(contents);
            } else if (meta) {
                rc = lkb_config_metadata(cfg, meta, &data, &len, err);
            } else if (source) {
                struct lkb_blob *blob; /* large files spill to a scratch file */
                rc = lkb_blob_read_file(spath, &blob, err);
                if (rc < 0)
                    lkb_error_prefix(err, "%s: file %s: ", where, path);
                else
                    rc = lkb_tree_add_blob(root, clean, blob, mode, uid, gid, LKB_DEFAULT_MTIME,
                                           err);
                lkb_blob_unref(blob);
            }
            if (rc == 0 && !source)
                rc = lkb_tree_add_file(root, clean, data, len, mode, uid, gid, LKB_DEFAULT_MTIME,
                                       err);
            free(data);
        }
    }
    char **ne = realloc(*emitted, (*n_emitted + 1) * sizeof *ne);
    if (ne) {
        *emitted = ne;
        ne[(*n_emitted)++] = clean;
    } else {
        free(clean);
    }
    return rc;
}

int lkb_build_files_section(struct lkb_tree *root, const struct lkb_config *cfg,
                            struct lkb_error *err)
{
    char **emitted = NULL;
    size_t n = 0, i;
    json_t *f;
    int rc = 0;
    json_array_foreach(cfg->files, i, f)
    {
        if ((rc = lkb_tree_set_origin_at(root, "linuxkit.files", "files", i, err)) < 0 ||
            (rc = file_entry(root, cfg, f, &emitted, &n, err)) < 0)
            break;
    }
    for (size_t k = 0; k < n; k++)
        free(emitted[k]);
    free(emitted);
    return rc;
}
