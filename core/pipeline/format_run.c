#include "pipeline/format_run.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/builtin_formats.h"
#include "pipeline/inputs.h"
#include "rootfs/image.h"
#include "util/fs.h"
#include "util/log.h"

/* ---- images for format callbacks: all from the build's one store ---- */

static int image_for(struct lkb_build_state *b, const char *image, struct lkb_image **img,
                     struct lkb_error *err)
{
    if ((*img = lkb_image_store_lookup(&b->images, image, NULL)))
        return 0;
    const struct lkb_loaded_format *f = b->current;
    if (f && f->abi_minor == 0) /* 1.0 plugins cannot declare images */
        return lkb_image_store_get(&b->images, image, NULL, img, err);
    return lkb_error_set(err, LKB_ERR_PLUGIN,
                         "image %s was not declared: call api->require_image in check()", image);
}

static int host_read_file(void *ctx, const char *image, const char *path, void **data,
                          size_t *size, struct lkb_error *err)
{
    struct lkb_image *img;
    if (image_for(ctx, image, &img, err) < 0)
        return -1;
    int rc = lkb_image_read_file(img, path, data, size, err);
    if (rc == 1)
        return lkb_error_set(err, LKB_ERR_BUILD, "%s not found in image %s", path, image);
    return rc;
}

static int host_extract_dir(void *ctx, const char *image, const char *path, const char *dest,
                            struct lkb_error *err)
{
    struct lkb_image *img;
    if (image_for(ctx, image, &img, err) < 0)
        return -1;
    struct lkb_tree t;
    int rc = lkb_rootfs_flatten(img, &t, err);
    char *prefix = NULL;
    if (rc == 0 && strcmp(path, "") != 0 && strcmp(path, "/") != 0)
        rc = lkb_tree_clean_path(path, &prefix, err);
    size_t plen = prefix ? strlen(prefix) : 0;
    int found = 0;
    for (size_t i = 0; rc == 0 && i < t.n; i++) {
        struct lkb_node *n = &t.nodes[i];
        if (n->removed)
            continue;
        const char *rel = n->path;
        if (prefix) {
            if (strncmp(n->path, prefix, plen) != 0 || (n->path[plen] && n->path[plen] != '/'))
                continue;
            rel = n->path[plen] ? n->path + plen + 1 : "";
        }
        found = 1;
        if (!*rel)
            continue;
        char *out = lkb_fs_join(dest, rel);
        if (!out)
            rc = lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        else if (n->type == LKB_NODE_DIR)
            rc = lkb_fs_mkdir_p(out, 0755, err);
        else if (n->type == LKB_NODE_FILE)
            rc = lkb_fs_write_atomic(out, n->blob->data, n->blob->size, n->mode & 0777, err);
        else if (n->type == LKB_NODE_SYMLINK && symlink(n->link, out) < 0)
            rc = lkb_error_errno(err, LKB_ERR_IO, errno, "symlink %s", out);
        free(out);
    }
    if (rc == 0 && !found)
        rc = lkb_error_set(err, LKB_ERR_BUILD, "%s not found in image %s", path, image);
    free(prefix);
    lkb_tree_free(&t);
    return rc;
}

static int host_require(void *ctx, const char *image, struct lkb_error *err)
{
    struct lkb_build_state *b = ctx;
    struct lkb_oci_ref r;
    if (lkb_oci_ref_parse(image, &r, err) < 0) {
        err->kind = LKB_ERR_USAGE;
        return lkb_error_prefix(err, "image %s: ", image);
    }
    lkb_oci_ref_free(&r);
    return lkb_image_store_want(&b->images, image, NULL, err);
}

/* ---- inputs ---- */

/* The seed: SHA-256 over the merged configuration, the format, the arch and
 * the timestamp, so equal builds get equal GUIDs and serials. */
static int make_seed(struct lkb_build_state *b, const char *format, uint8_t seed[32],
                     struct lkb_error *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    char head[256];
    int n = snprintf(head, sizeof head, "lkb-seed-1\n%s\n%s\n%lld\n", format, b->plan->arch,
                     (long long)b->timestamp);
    ok = ok && n > 0 && (size_t)n < sizeof head && EVP_DigestUpdate(md, head, (size_t)n);
    const json_t *parts[] = {b->cfg->kernel,     b->cfg->init,     b->cfg->onboot,
                             b->cfg->onshutdown, b->cfg->services, b->cfg->volumes,
                             b->cfg->files};
    for (size_t i = 0; ok && i < sizeof parts / sizeof *parts; i++) {
        char *s = parts[i] ? json_dumps(parts[i], JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY)
                           : NULL;
        ok = EVP_DigestUpdate(md, s ? s : "null", s ? strlen(s) : 4) &&
             EVP_DigestUpdate(md, "\n", 1);
        free(s);
    }
    unsigned len = 0;
    ok = ok && EVP_DigestFinal_ex(md, seed, &len) && len == 32;
    EVP_MD_CTX_free(md);
    return ok ? 0 : lkb_error_set(err, LKB_ERR_INTERNAL, "computing the build seed failed");
}

struct format_input {
    struct lkb_build_input in;
    char *base, *kernel, *initrd, *ucode, *rootfs, *cmdline;
    struct lkb_dtbs dtbs;
};

static void input_free(struct format_input *fi)
{
    free(fi->base), free(fi->kernel), free(fi->initrd), free(fi->ucode), free(fi->rootfs);
    free(fi->cmdline);
    lkb_input_dtbs_free(&fi->dtbs);
}

static int needs_rootfs_tar(const struct lkb_loaded_format *f)
{
    return f->abi_minor == 0 || (f->fmt.inputs & LKB_INPUT_ROOTFS_TAR);
}

static int input_make(struct lkb_build_state *b, const struct lkb_planned_format *pf, int check,
                      struct format_input *fi, struct lkb_error *err)
{
    memset(fi, 0, sizeof *fi);
    const struct lkb_loaded_format *f = pf->fmt;
    struct lkb_build_input *in = &fi->in;
    *in = (struct lkb_build_input){
        .struct_size = sizeof *in,
        .abi_version = LKB_PLUGIN_ABI_VERSION,
        .format = pf->name,
        .arch = b->plan->arch,
        .name = b->plan->name,
        .size_bytes = b->opts->size_set ? b->opts->size_bytes : 0,
        .options = pf->opts,
        .n_options = pf->n_opts,
        .final_dir = b->plan->dir,
        .format_data = f->fmt.data,
        .option_values = pf->values,
        .n_option_values = pf->n_values,
        .source_date_epoch = b->timestamp,
        .is_check = check,
    };
    if (make_seed(b, pf->name, in->seed, err) < 0)
        return -1;
    if (check) {
        const char *c = json_string_value(json_object_get(b->cfg->kernel, "cmdline"));
        fi->cmdline = strdup(c ? c : "");
    } else {
        /* cmdline blob is not NUL-terminated: give the format a string. */
        const struct lkb_node *c = lkb_input_boot_file(b, "boot/cmdline");
        fi->cmdline = c && c->blob->size ? strndup((const char *)c->blob->data, c->blob->size)
                                         : strdup(""); /* an empty blob has no data */
        if (b->stage && !(fi->base = lkb_fs_join(b->stage, b->plan->name)))
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        in->output_dir = b->stage;
        in->output_base = fi->base;
        /* Built-in formats read the tree itself; two read the initrd. */
        int builtin = lkb_format_is_builtin(f);
        if (!(builtin && !lkb_builtin_reads_initrd(&f->fmt)) &&
            lkb_input_initrd(b, &fi->initrd, err) < 0)
            return -1;
        if (!builtin && (lkb_input_kernel(b, &fi->kernel, err) < 0 ||
                         lkb_input_ucode(b, &fi->ucode, err) < 0 ||
                         lkb_input_dtbs(b, &fi->dtbs, err) < 0 ||
                         (needs_rootfs_tar(f) && lkb_input_rootfs_tar(b, &fi->rootfs, err) < 0)))
            return -1;
        in->kernel_path = fi->kernel;
        in->initrd_path = fi->initrd;
        in->ucode_path = fi->ucode;
        in->rootfs_tar_path = fi->rootfs;
        in->dtbs = fi->dtbs.v1_0;
        in->n_dtbs = fi->dtbs.n;
        in->dtb_files = fi->dtbs.files;
        in->n_dtb_files = fi->dtbs.n;
    }
    if (!fi->cmdline)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    in->cmdline = fi->cmdline;
    return 0;
}

static int run_all(struct lkb_build_state *b, int check, struct lkb_error *err)
{
    struct lkb_host *h = &b->host;
    h->pipeline = b;
    h->images = (struct lkb_image_access){b, host_read_file, host_extract_dir, host_require};
    h->stage_dir = check ? NULL : b->stage;
    for (size_t i = 0; i < b->plan->n_formats; i++) {
        const struct lkb_planned_format *pf = &b->plan->formats[i];
        struct format_input fi;
        int rc = input_make(b, pf, check, &fi, err);
        if (rc == 0) {
            b->current = pf->fmt;
            h->options = pf->opts;
            h->n_options = pf->n_opts;
            rc = check ? lkb_host_run_check(h, pf->fmt, &fi.in, err)
                       : lkb_host_run_build(h, pf->fmt, &fi.in, err);
            b->current = NULL;
        }
        input_free(&fi);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int lkb_format_run_checks(struct lkb_build_state *b, struct lkb_error *err)
{
    return run_all(b, 1, err);
}

int lkb_format_run_builds(struct lkb_build_state *b, struct lkb_error *err)
{
    return run_all(b, 0, err);
}
