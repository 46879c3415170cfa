/* The build, as a sequence of steps: check every format (options, declared
 * images), fetch every image in one phase, lay out the root tree in
 * LinuxKit's section order (kernel, init, volumes, onboot, onshutdown,
 * services, files), run every format into a staging directory, and commit
 * the outputs only when every format succeeded, so a failed build leaves
 * nothing behind. */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/build_state.h"
#include "pipeline/containers.h"
#include "pipeline/files.h"
#include "pipeline/format_run.h"
#include "pipeline/ocivolume.h"
#include "pipeline/output_file.h"
#include "pipeline/staging.h"
#include "rootfs/image.h"
#include "rootfs/unpacked.h"
#include "sbom/sbom.h"
#include "util/fs.h"
#include "util/log.h"

static struct lkb_image *lookup(void *ctx, const char *text)
{
    struct lkb_build_state *b = ctx;
    return lkb_image_store_lookup(&b->images, text, NULL);
}

/* Call fn for the image of every section that is laid out (sections
 * copied from -input-tar need none); flattened is false for an OCI-layout
 * volume, which is exported rather than laid out. */
static int each_section_image(struct lkb_build_state *b,
                              int (*fn)(void *ctx, const char *ref, bool flattened,
                                        struct lkb_error *),
                              void *ctx, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    int rc = lkb_input_tar_reuses(b->itar, "kernel", 0)
                 ? 0
                 : fn(ctx, json_string_value(json_object_get(cfg->kernel, "image")), true, err);
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v) if (!lkb_input_tar_reuses(b->itar, "init", i)) rc |=
        fn(ctx, json_string_value(v), true, err);
    static const char *const names[] = {"onboot", "onshutdown", "services", "volumes"};
    const json_t *lists[] = {cfg->onboot, cfg->onshutdown, cfg->services, cfg->volumes};
    for (int l = 0; l < 4; l++)
        json_array_foreach(lists[l], i, v) if (!lkb_input_tar_reuses(b->itar, names[l], i))
        {
            const char *f = json_string_value(json_object_get(v, "format"));
            rc |= fn(ctx, json_string_value(json_object_get(v, "image")),
                     l < 3 || !f || strcmp(f, "oci") != 0, err);
        }
    return rc < 0 ? -1 : 0;
}

static int want(void *ctx, const char *ref, bool flattened, struct lkb_error *err)
{
    (void)flattened;
    struct lkb_build_state *b = ctx;
    return lkb_image_store_want(&b->images, ref, NULL, err);
}

/* Every image of the configuration joins the fetch phase; formats added
 * theirs in their check. */
static int fetch(struct lkb_build_state *b, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    struct lkb_image_store *s = &b->images;
    size_t i;
    json_t *v;
    int rc = each_section_image(b, want, b, err);
    /* Layers are unpacked as they arrive (a cold build's inflating
     * overlaps its downloads). */
    struct lkb_unpacked_early *early = lkb_unpacked_early_new();
    b->pull.on_layer = early ? lkb_unpacked_early_layer : NULL;
    b->pull.on_layer_ctx = early;
    if (rc == 0)
        rc = lkb_image_store_fetch(s, err);
    b->pull.on_layer = NULL;
    double t0 = lkb_now_s();
    int n_early = lkb_unpacked_early_finish(early);
    if (n_early < 0 && rc == 0)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    if (n_early > 0)
        lkb_debug("unpacking %d pulled layers, after the pull: %.3f s", n_early,
                  lkb_now_s() - t0);
    if (rc < 0)
        return -1;
    /* OCI-layout volumes: their platforms are known only from the index
     * fetched above; a second round pulls them, still before any layout. */
    size_t n_oci = 0;
    json_array_foreach(cfg->volumes, i, v)
    {
        const char *f = json_string_value(json_object_get(v, "format"));
        const char *img = json_string_value(json_object_get(v, "image"));
        if (img && *img && f && strcmp(f, "oci") == 0) {
            n_oci++;
            if (lkb_oci_volume_want(s, v, err) < 0)
                return lkb_error_prefix(err, "volume %s: ",
                                        json_string_value(json_object_get(v, "name")));
        }
    }
    return n_oci ? lkb_image_store_fetch(s, err) : 0;
}

static int copy_section(void *ctx, const char *section, size_t idx, struct lkb_error *err)
{
    struct lkb_build_state *b = ctx;
    if (!lkb_input_tar_reuses(b->itar, section, idx))
        return 0;
    return lkb_input_tar_copy(b->itar, &b->root, section, idx, err) < 0 ? -1 : 1;
}

struct image_list {
    struct lkb_build_state *b;
    struct lkb_image **v;
    size_t n, cap;
};

static int list_image(void *ctx, const char *ref, bool flattened, struct lkb_error *err)
{
    struct image_list *l = ctx;
    struct lkb_build_state *b = l->b;
    struct lkb_image *img = ref && *ref && flattened ? lookup(b, ref) : NULL;
    if (!img)
        return 0;
    if (l->n == l->cap) {
        struct lkb_image **m = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof *m);
        if (!m)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        l->v = m;
    }
    l->v[l->n++] = img;
    return 0;
}

/* The layers the layout will read, unpacked into the cache on all cores
 * first (a cold build's inflating would otherwise run one layer at a
 * time); only a speed-up. */
static int prepare_layers(struct lkb_build_state *b, struct lkb_error *err)
{
    struct image_list l = {.b = b};
    int rc = each_section_image(b, list_image, &l, err);
    if (rc == 0 && lkb_unpacked_prepare(l.v, l.n) < 0)
        rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(l.v);
    return rc;
}

static int layout(struct lkb_build_state *b, struct lkb_error *err)
{
    const struct lkb_config *cfg = b->cfg;
    if (prepare_layers(b, err) < 0)
        return -1;
    const char *kimg = json_string_value(json_object_get(cfg->kernel, "image"));
    int copied = kimg ? copy_section(b, "kernel", 0, err) : 0;
    if (copied < 0)
        return -1;
    if (copied) {
        const struct lkb_node *u = lkb_tree_get(&b->root, "boot/ucode.cpio");
        if (u && u->type == LKB_NODE_FILE)
            b->kernel.ucode = lkb_blob_ref(u->blob);
    } else if (kimg) {
        lkb_info("Extract kernel image: %s", kimg);
        struct lkb_image *k = lookup(b, kimg);
        if (lkb_tree_set_origin(&b->root, k ? k->ref : NULL, "kernel", err) < 0 ||
            lkb_build_kernel_section(&b->root, k, cfg->kernel,
                                     b->opts->decompress_kernel, &b->kernel, err) < 0)
            return -1;
    }
    if (json_array_size(cfg->init))
        lkb_info("Add init containers:");
    size_t i;
    json_t *v;
    json_array_foreach(cfg->init, i, v)
    {
        if ((copied = copy_section(b, "init", i, err)) != 0) {
            if (copied < 0)
                return -1;
            continue;
        }
        lkb_info("Process init image: %s", json_string_value(v));
        struct lkb_image *img = lookup(b, json_string_value(v));
        if (lkb_tree_set_origin_at(&b->root, img ? img->ref : NULL, "init", i, err) < 0 ||
            lkb_rootfs_add_image(&b->root, img, "", LKB_RESOLV_SYMLINK, err) < 0)
            return -1;
    }
    if (json_array_size(cfg->volumes))
        lkb_info("Add volumes:");
    if (lkb_build_volumes(&b->root, cfg, lookup, b, &b->images, err) < 0 ||
        lkb_build_containers(&b->root, cfg, lookup, copy_section, b, err) < 0)
        return -1;
    if (json_array_size(cfg->files))
        lkb_info("Add files:");
    if (lkb_build_files_section(&b->root, cfg, err) < 0)
        return -1;
    return lkb_sbom_section(b, err);
}

static int outputs(struct lkb_build_state *b, struct lkb_error *err)
{
    const char *out = b->plan->output_file;
    /* -o -: the streamable format is the only one and writes stdout. */
    if (out && strcmp(out, "-") == 0)
        return lkb_format_run_builds(b, err);
    lkb_info("Create outputs:");
    /* -o FILE: staged next to FILE, the one output renamed onto it. */
    char *dir = out ? lkb_output_file_dir(out) : NULL;
    if (out && !dir)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    int rc = lkb_staging_create(out ? dir : b->plan->dir, &b->stage, err);
    free(dir);
    if (rc < 0)
        return -1;
    rc = lkb_format_run_builds(b, err);
    if (rc == 0 && out)
        rc = lkb_output_file_commit(b->stage, out, b->plan->formats[0].name, err);
    else if (rc == 0)
        rc = lkb_staging_commit(b->stage, b->plan->dir, err);
    else
        lkb_staging_discard(b->stage);
    free(b->stage);
    b->stage = NULL;
    return rc;
}

/* $SOURCE_DATE_EPOCH, or -1 when unset. The reproducible-builds.org spec
 * asks builders to fail on a malformed value rather than guess. */
static int source_date_epoch(int64_t *out, struct lkb_error *err)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    *out = -1;
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno == ERANGE || v < 0)
        return lkb_error_set(err, LKB_ERR_USAGE,
                             "SOURCE_DATE_EPOCH=%s: want a non-negative integer (seconds since "
                             "1970-01-01 UTC)",
                             s);
    *out = v;
    return 0;
}

/* -v: the time of each phase, to see where a build's time goes. */
static int timed_phase(const char *name, int (*phase)(struct lkb_build_state *, struct lkb_error *),
                       struct lkb_build_state *b, struct lkb_error *err)
{
    double t0 = lkb_now_s();
    int rc = phase(b, err);
    lkb_debug("phase %s: %.3f s", name, lkb_now_s() - t0);
    return rc;
}

/* The directory of the inputs formats share (initrd, kernel, ...): on the
 * outputs' file system, so a format can hard-link one into its output
 * rather than copy it; in $TMPDIR when the output goes to stdout. */
static int make_tmpdir(struct lkb_build_state *b, struct lkb_error *err)
{
    const char *file = b->plan->output_file;
    if (file && strcmp(file, "-") == 0)
        return lkb_fs_make_temp_dir("lkb-build", &b->tmpdir, err);
    char *parent = file ? lkb_output_file_dir(file) : strdup(b->plan->dir);
    int rc = parent ? lkb_fs_make_temp_dir_in(parent, ".lkb-build", &b->tmpdir, err)
                    : lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    free(parent);
    return rc;
}

int lkb_build_run(const struct lkb_build_opts *opts, const struct lkb_build_plan *plan,
                  const struct lkb_plugin_set *plugins, const struct lkb_config *cfg,
                  struct lkb_error *err)
{
    (void)plugins;
    struct lkb_build_state b = {.opts = opts, .plan = plan, .cfg = cfg, .clamp = -1};
    if (source_date_epoch(&b.clamp, err) < 0)
        return -1;
    b.timestamp = b.clamp >= 0 ? b.clamp : LKB_DEFAULT_MTIME;
    b.pull.force = opts->pull;
    b.pull.offline = opts->offline;
    b.pull.verbose = opts->verbose > 0;
    b.pull.no_progress = opts->verbose < 0;
    b.pull.timeout_s = opts->fetch_timeout_s;
    b.pull.deadline_s = opts->fetch_deadline_s;
    b.pull.attestations = !opts->no_sbom;
    lkb_tree_init(&b.root, LKB_DEFAULT_MTIME);
    lkb_host_init(&b.host, NULL);
    int rc = 0;
    if (strcmp(plan->dir, ".") != 0 && access(plan->dir, W_OK) != 0)
        rc = lkb_error_errno(err, LKB_ERR_IO, errno, "output directory %s", plan->dir);
    if (rc == 0 && plan->output_file && strcmp(plan->output_file, "-") != 0) {
        /* -o FILE is staged next to FILE: fail now, not after the build. */
        char *d = lkb_output_file_dir(plan->output_file);
        if (!d)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (access(d, W_OK) != 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "-o %s: directory %s",
                                 plan->output_file, d);
        free(d);
    }
    lkb_image_store_init(&b.images, NULL, &b.pull, plan->arch);
    if (rc == 0)
        rc = lkb_format_run_checks(&b, err);
    if (rc == 0 && !(b.images.cache = b.cache = lkb_cache_open(opts->cache_dir, err)))
        rc = -1;
    if (rc == 0)
        rc = lkb_unpacked_use(lkb_cache_dir(b.cache), err);
    if (rc == 0)
        rc = make_tmpdir(&b, err);
    if (rc == 0 && opts->input_tar)
        rc = lkb_input_tar_open(opts->input_tar, cfg, &b.itar, err);
    if (rc == 0)
        rc = timed_phase("fetch", fetch, &b, err);
    if (rc == 0)
        rc = timed_phase("layout", layout, &b, err);
    if (rc == 0 && b.itar && !lkb_input_tar_sound(b.itar, &b.root)) {
        /* A copied section may lack what a rebuilt one had overwritten:
         * build everything, fetching what was skipped. */
        lkb_input_tar_reuse_none(b.itar);
        lkb_tree_free(&b.root);
        lkb_tree_init(&b.root, LKB_DEFAULT_MTIME);
        lkb_blob_unref(b.kernel.ucode);
        b.kernel.ucode = NULL;
        rc = timed_phase("fetch", fetch, &b, err);
        if (rc == 0)
            rc = timed_phase("layout", layout, &b, err);
    }
    if (rc == 0) {
        struct lkb_unpacked_stats us;
        lkb_unpacked_stats(&us);
        lkb_debug("layers: %zu read unpacked, %zu inflated into the unpacked cache, %zu inflated "
                  "(not kept)", us.reused, us.made, us.streamed);
        rc = timed_phase("outputs", outputs, &b, err);
    }
    if (rc == 0) {
        struct lkb_error ignored; /* the bound is housekeeping, not the build's result */
        if (lkb_unpacked_trim(lkb_cache_dir(b.cache), &ignored) < 0)
            lkb_debug("unpacked layers: %s", ignored.msg);
    }
    lkb_unpacked_use(NULL, NULL);
    lkb_input_tar_free(b.itar);
    lkb_host_cleanup(&b.host);
    if (b.tmpdir) {
        struct lkb_error e;
        lkb_fs_remove_tree(b.tmpdir, &e);
        free(b.tmpdir);
    }
    lkb_image_store_free(&b.images);
    lkb_blob_unref(b.kernel.ucode);
    lkb_tree_free(&b.root);
    if (b.cache)
        lkb_cache_close(b.cache);
    return rc;
}
