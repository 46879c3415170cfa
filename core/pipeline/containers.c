#include "pipeline/containers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/image.h"
#include "runtime/runtime.h"
#include "util/log.h"
#include "util/str.h"

int lkb_build_volumes(struct lkb_tree *root, const struct lkb_config *cfg,
                      lkb_image_lookup_fn lookup, void *ctx,
                      struct lkb_image_store *oci, struct lkb_error *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(cfg->volumes, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *image = json_string_value(json_object_get(v, "image"));
        const char *format = json_string_value(json_object_get(v, "format"));
        char *prefix = lkb_strf("containers/volumes/%s/lower", name);
        if (!prefix)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        lkb_info("Process volume image: %s", name);
        /* LinuxKit's PAX records: a blank volume's directories come from
         * "empty", tmp/ and merged/ from "linuxkit.volumes". */
        char *canon = NULL;
        int rc = image && *image ? lkb_oci_ref_canonical(image, &canon, err) : 0;
        if (rc == 0)
            rc = lkb_tree_set_origin_at(root, canon ? canon : "empty", "volume", i, err);
        free(canon);
        if (rc < 0) {
            free(prefix);
            return -1;
        }
        if (image && *image && format && strcmp(format, "oci") == 0) {
            rc = lkb_rootfs_prefix_dirs(root, prefix, LKB_DEFAULT_MTIME, err);
            if (rc == 0 && lkb_build_oci_volume(root, oci, v, prefix, err) < 0) {
                free(prefix);
                return lkb_error_prefix(err, "volume %s: ", name);
            }
        } else if (image && *image) {
            struct lkb_image *img = lookup(ctx, image);
            rc = img ? lkb_rootfs_add_image(root, img, prefix, LKB_RESOLV_SYMLINK, err)
                     : lkb_error_set(err, LKB_ERR_INTERNAL, "volume image %s not pulled", image);
        } else {
            rc = lkb_rootfs_prefix_dirs(root, prefix, LKB_DEFAULT_MTIME, err);
        }
        free(prefix);
        if (rc == 0)
            rc = lkb_tree_set_origin_at(root, "linuxkit.volumes", "volume", i, err);
        for (int k = 0; rc == 0 && k < 2; k++) {
            char *d = lkb_strf("containers/volumes/%s/%s", name, k ? "merged" : "tmp");
            rc = d ? lkb_tree_add_dir(root, d, 0755, 0, 0, LKB_DEFAULT_MTIME, err)
                   : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
            free(d);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* First extraction of each canonical image: later identical images share
 * it (runtime-config.md §12.3). */
struct dedup {
    char **refs;
    char **roots;
    size_t n;
};

static const char *dedup_find(const struct dedup *d, const char *ref)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->refs[i], ref) == 0)
            return d->roots[i];
    return NULL;
}

static void dedup_free(struct dedup *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->refs[i]);
        free(d->roots[i]);
    }
    free(d->refs);
    free(d->roots);
}

static int one_container_in(struct lkb_tree *root, const struct lkb_config *cfg,
                            const char *section, size_t idx, const json_t *entry,
                            struct lkb_image *img, struct dedup *dd, const char *dir,
                            struct lkb_error *err);

static int one_container(struct lkb_tree *root, const struct lkb_config *cfg, const char *section,
                         size_t idx, const json_t *entry, struct lkb_image *img,
                         struct dedup *dd, struct lkb_error *err)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    char *dir = strcmp(section, "services") == 0
                    ? lkb_strf("containers/services/%s", name)
                    : lkb_strf("containers/%s/%03zu-%s", section, idx, name);
    if (!dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = one_container_in(root, cfg, section, idx, entry, img, dd, dir, err);
    free(dir);
    return rc;
}

static int one_container_in(struct lkb_tree *root, const struct lkb_config *cfg,
                            const char *section, size_t idx, const json_t *entry,
                            struct lkb_image *img, struct dedup *dd, const char *dir,
                            struct lkb_error *err)
{

    json_t *label = NULL;
    const json_t *icfg = json_object_get(img->config, "config");
    const char *ltext =
        json_string_value(json_object_get(json_object_get(icfg, "Labels"), "org.mobyproject.config"));
    if (lkb_config_parse_label(ltext, img->ref, &label, err) < 0)
        return -1;
    int ro = lkb_runtime_readonly(entry, label);
    char *rootdir = lkb_strf("%s/%s", dir, ro ? "rootfs" : "lower");
    if (!rootdir) {
        json_decref(label);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    const char *shared = dedup_find(dd, img->ref);
    int rc;
    if (shared) {
        rc = lkb_rootfs_prefix_dirs(root, dir, LKB_DEFAULT_MTIME, err);
    } else {
        rc = lkb_rootfs_add_image(root, img, rootdir, LKB_RESOLV_CONTENTS, err);
        char **nr = realloc(dd->refs, (dd->n + 1) * sizeof *nr);
        char **nroot = nr ? realloc(dd->roots, (dd->n + 1) * sizeof *nroot) : NULL;
        if (nr)
            dd->refs = nr;
        if (nroot)
            dd->roots = nroot;
        if (!nr || !nroot || !(dd->refs[dd->n] = strdup(img->ref)) ||
            !(dd->roots[dd->n] = strdup(rootdir))) {
            json_decref(label);
            free(rootdir);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
        dd->n++;
    }
    char *cj = NULL, *rj = NULL;
    if (rc == 0) {
        struct lkb_runtime_input in = {section, idx,  entry, label, icfg,
                                       cfg,     dir,  shared ? shared : rootdir};
        rc = lkb_runtime_bundle_files(&in, &cj, &rj, err);
    }
    json_decref(label);
    free(rootdir);
    /* The bundle's own entries: config.json, tmp, rootfs, runtime.json. */
    const char *json[] = {cj, NULL, NULL, rj};
    const char *leaf[] = {"config.json", "tmp", "rootfs", "runtime.json"};
    const int want[] = {1, !ro, !ro || shared, 1};
    for (int k = 0; rc == 0 && k < 4; k++) {
        if (!want[k])
            continue;
        char *p = lkb_strf("%s/%s", dir, leaf[k]);
        if (!p)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (json[k])
            rc = lkb_tree_add_file(root, p, json[k], strlen(json[k]), 0644, 0, 0,
                                   LKB_DEFAULT_MTIME, err);
        else
            rc = lkb_tree_add_dir(root, p, 0755, 0, 0, LKB_DEFAULT_MTIME, err);
        free(p);
    }
    free(cj);
    free(rj);
    return rc;
}

int lkb_build_containers(struct lkb_tree *root, const struct lkb_config *cfg,
                         lkb_image_lookup_fn lookup, lkb_section_copy_fn copy, void *ctx,
                         struct lkb_error *err)
{
    static const char *const sections[] = {"onboot", "onshutdown", "services"};
    const json_t *lists[] = {cfg->onboot, cfg->onshutdown, cfg->services};
    struct dedup dd = {0};
    int rc = 0;
    for (int s = 0; s < 3 && rc == 0; s++) {
        if (json_array_size(lists[s]))
            lkb_info("Add %s containers:", sections[s]);
        size_t i;
        json_t *e;
        json_array_foreach(lists[s], i, e)
        {
            const char *image = json_string_value(json_object_get(e, "image"));
            if (copy && (rc = copy(ctx, sections[s], i, err)) != 0) {
                if (rc < 0)
                    break;
                rc = 0;
                continue;
            }
            lkb_info("  Create OCI config for %s", image);
            struct lkb_image *img = lookup(ctx, image);
            if (!img) {
                rc = lkb_error_set(err, LKB_ERR_INTERNAL, "image %s was not pulled", image);
                break;
            }
            if ((rc = lkb_tree_set_origin_at(root, img->ref, sections[s], i, err)) < 0 ||
                (rc = one_container(root, cfg, sections[s], i, e, img, &dd, err)) < 0)
                break;
        }
    }
    dedup_free(&dd);
    return rc;
}
