/* The SBOM step of the build: which images LinuxKit collects SBOMs from,
 * under which extraction prefix, and the SBOM entry of the root tree
 * (build-and-outputs.md §2 row 9, §9.2). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/build_state.h"
#include "rootfs/image.h"
#include "runtime/runtime.h"
#include "sbom/sbom.h"
#include "util/log.h"
#include "util/str.h"

#define DEFAULT_NAME "sbom.spdx.json"

/* The image of section[idx]: the pulled one, or for a section copied from
 * -input-tar (not pulled) the cache's, so an incremental build's SBOM
 * equals a fresh build's; NULL (with a warning) when the cache lacks it.
 * *owned is set when the caller must free it. */
static struct lkb_image *image_of(struct lkb_build_state *b, const char *section, size_t idx,
                                  const char *ref, bool *owned)
{
    *owned = false;
    if (!ref || !*ref)
        return NULL;
    if (!lkb_input_tar_reuses(b->itar, section, idx))
        return lkb_image_store_lookup(&b->images, ref, NULL);
    struct lkb_image *img;
    struct lkb_error e;
    if (lkb_oci_image_open(b->cache, ref, b->images.arch, &img, &e) < 0) {
        lkb_warn("SBOM: %s[%zu] was copied from -input-tar and %s is not in the cache: its "
                 "attestations are left out (%s)",
                 section, idx, ref, e.msg);
        return NULL;
    }
    *owned = true;
    return img;
}

/* Add IMG's attestations; those of a copied section may be missing from
 * the cache (pulled before lkb wrote SBOMs): a warning, not an error. */
static int add_image(struct lkb_build_state *b, struct lkb_sbom *s, struct lkb_image *img,
                     bool copied, const char *prefix, struct lkb_error *err)
{
    if (!img)
        return 0;
    struct lkb_oci_statement *st;
    size_t n;
    struct lkb_error e;
    if (copied && lkb_oci_image_sboms(b->cache, img, &st, &n, &e) < 0) {
        lkb_warn("SBOM: copied from -input-tar, %s: its attestations are left out", e.msg);
        return 0;
    }
    if (copied)
        lkb_oci_statements_free(st, n);
    return lkb_sbom_add_image(s, b->cache, img, prefix, err);
}

static int add(struct lkb_build_state *b, struct lkb_sbom *s, const char *section, size_t idx,
               const char *ref, const char *prefix, struct lkb_error *err)
{
    bool owned;
    struct lkb_image *img = image_of(b, section, idx, ref, &owned);
    int rc = add_image(b, s, img, owned, prefix, err);
    if (owned)
        lkb_image_free(img);
    return rc;
}

/* Where a container's image was extracted (pipeline/containers.c): the
 * bundle's rootfs when read-only, else its lower directory. */
static char *container_root(const char *section, size_t idx, const json_t *entry,
                            const struct lkb_image *img, struct lkb_error *err)
{
    const char *name = json_string_value(json_object_get(entry, "name"));
    const json_t *icfg = json_object_get(img->config, "config");
    const char *ltext = json_string_value(
        json_object_get(json_object_get(icfg, "Labels"), "org.mobyproject.config"));
    json_t *label = NULL;
    if (lkb_config_parse_label(ltext, img->ref, &label, err) < 0)
        return NULL;
    const char *leaf = lkb_runtime_readonly(entry, label) ? "rootfs" : "lower";
    json_decref(label);
    char *p = strcmp(section, "services") == 0
                  ? lkb_strf("containers/services/%s/%s", name, leaf)
                  : lkb_strf("containers/%s/%03zu-%s/%s", section, idx, name, leaf);
    if (!p)
        lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    return p;
}

/* Only the first extraction of each image (later ones share it,
 * runtime-config.md §12.3). */
static int containers(struct lkb_build_state *b, struct lkb_sbom *s, struct lkb_error *err)
{
    static const char *const sections[] = {"onboot", "onshutdown", "services"};
    const json_t *lists[] = {b->cfg->onboot, b->cfg->onshutdown, b->cfg->services};
    char **seen = NULL; /* canonical references already extracted */
    size_t n_seen = 0;
    int rc = 0;
    for (int l = 0; l < 3 && rc == 0; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(lists[l], i, e)
        {
            if (rc < 0)
                break;
            bool owned, dup = false;
            struct lkb_image *img = image_of(b, sections[l], i,
                                             json_string_value(json_object_get(e, "image")), &owned);
            for (size_t k = 0; img && k < n_seen && !dup; k++)
                dup = strcmp(seen[k], img->ref) == 0;
            if (img && !dup) {
                char **ns = realloc(seen, (n_seen + 1) * sizeof *ns);
                if (ns)
                    seen = ns;
                if (!ns || !(seen[n_seen] = strdup(img->ref))) {
                    rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
                } else {
                    n_seen++;
                    char *root = container_root(sections[l], i, e, img, err);
                    rc = root ? add_image(b, s, img, owned, root, err) : -1;
                    free(root);
                }
            }
            if (owned)
                lkb_image_free(img);
        }
    }
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k]);
    free(seen);
    return rc;
}

static int collect(struct lkb_build_state *b, struct lkb_sbom *s, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    if (add(b, s, "kernel", 0, json_string_value(json_object_get(cfg->kernel, "image")), "",
            err) < 0)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v) if (add(b, s, "init", i, json_string_value(v), "", err) < 0)
        return -1;
    /* Filesystem volumes only: OCI-layout volumes are copied, not extracted. */
    json_array_foreach(cfg->volumes, i, v)
    {
        const char *f = json_string_value(json_object_get(v, "format"));
        if (f && strcmp(f, "oci") == 0)
            continue;
        char *prefix = lkb_strf("containers/volumes/%s/lower",
                                json_string_value(json_object_get(v, "name")));
        int rc = prefix ? add(b, s, "volumes", i, json_string_value(json_object_get(v, "image")),
                              prefix, err)
                        : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        free(prefix);
        if (rc < 0)
            return -1;
    }
    return containers(b, s, err);
}

int lkb_sbom_section(struct lkb_build_state *b, struct lkb_error *err)
{
    if (b->opts->no_sbom)
        return 0;
    const char *name = b->opts->sbom_output ? b->opts->sbom_output : DEFAULT_NAME;
    char *path = NULL, *doc = NULL;
    size_t len = 0;
    struct lkb_sbom *s = lkb_sbom_new();
    int rc = s ? collect(b, s, err) : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (rc == 0)
        rc = lkb_sbom_render(s, b->opts->sbom_current_time ? (int64_t)time(NULL) : -1, &doc, &len,
                             err);
    /* The tree keeps cleaned names: "./x" and "/x" become "x". */
    if (rc == 0 && lkb_tree_clean_path(name, &path, err) < 0)
        rc = lkb_error_prefix(err, "-sbom-output: ");
    /* No LinuxKit PAX records on this entry (origin unknown). */
    if (rc == 0)
        rc = lkb_tree_set_origin(&b->root, NULL, NULL, err);
    if (rc == 0)
        rc = lkb_tree_add_file(&b->root, path, doc, len, 0644, 0, 0, LKB_DEFAULT_MTIME, err);
    free(path);
    free(doc);
    lkb_sbom_free(s);
    return rc;
}
