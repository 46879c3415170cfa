#include "pipeline/kernel.h"

#include <archive.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/decompress.h"
#include "rootfs/image.h"
#include "rootfs/layer.h"
#include "util/log.h"

static const char *str_or(const json_t *kernel, const char *key, const char *def)
{
    const json_t *v = json_object_get(kernel, key);
    return v ? json_string_value(v) : def;
}

int lkb_build_kernel_section(struct lkb_tree *root, struct lkb_image *img, const json_t *kernel,
                             bool decompress, struct lkb_kernel_out *out, struct lkb_error *err)
{
    memset(out, 0, sizeof *out);
    const char *binary = str_or(kernel, "binary", "kernel");
    const char *tarname = str_or(kernel, "tar", "kernel.tar");
    const char *ucode = str_or(kernel, "ucode", NULL);
    const char *cmdline = str_or(kernel, "cmdline", "");
    if (strcmp(tarname, "none") == 0)
        tarname = "";

    struct lkb_tree kt;
    if (lkb_rootfs_flatten(img, &kt, err) < 0) {
        lkb_tree_free(&kt);
        return -1;
    }
    int rc = 0;
    struct lkb_node *kn = lkb_tree_get(&kt, binary);
    if (!kn || kn->type != LKB_NODE_FILE) {
        rc = lkb_error_set(err, LKB_ERR_BUILD, "did not find kernel '%s' in kernel image %s",
                           binary, img->ref);
        goto out;
    }
    struct lkb_node *tn = *tarname ? lkb_tree_get(&kt, tarname) : NULL;
    if (*tarname && (!tn || tn->type != LKB_NODE_FILE)) {
        rc = lkb_error_set(err, LKB_ERR_BUILD, "did not find kernel tar '%s' in kernel image %s",
                           tarname, img->ref);
        goto out;
    }
    struct lkb_node *un = ucode ? lkb_tree_get(&kt, ucode) : NULL;
    if (ucode && !un)
        lkb_warn("microcode '%s' not found in kernel image %s; continuing without it", ucode,
                 img->ref); /* LinuxKit is silent here */

    if ((rc = lkb_tree_add_dir(root, "boot", 0755, 0, 0, LKB_DEFAULT_MTIME, err)) < 0)
        goto out;
    if (un && un->type == LKB_NODE_FILE) {
        if ((rc = lkb_tree_add_file(root, "boot/ucode.cpio", un->blob->data, un->blob->size,
                                    un->mode, 0, 0, LKB_DEFAULT_MTIME, err)) < 0)
            goto out;
        out->ucode = lkb_blob_ref(un->blob);
    }
    if ((rc = lkb_tree_add_file(root, "boot/cmdline", cmdline, strlen(cmdline), 0644, 0, 0,
                                LKB_DEFAULT_MTIME, err)) < 0)
        goto out;
    if (decompress) {
        uint8_t *raw;
        size_t rawlen;
        if ((rc = lkb_kernel_decompress(kn->blob->data, kn->blob->size, &raw, &rawlen, err)) <
            0) {
            lkb_error_prefix(err, "kernel image %s: ", img->ref);
            goto out;
        }
        rc = lkb_tree_add_file(root, "boot/kernel", raw, rawlen, kn->mode, 0, 0,
                               LKB_DEFAULT_MTIME, err);
        free(raw);
    } else {
        rc = lkb_tree_add_blob(root, "boot/kernel", kn->blob, kn->mode, 0, 0, LKB_DEFAULT_MTIME,
                               err); /* shared, not copied: kt's reference goes below */
    }
    if (rc < 0 || !tn)
        goto out;
    /* kernel.tar's entries keep their names, modes and mtimes. */
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_memory(a, tn->blob->data, tn->blob->size) != ARCHIVE_OK) {
        rc = lkb_error_set(err, LKB_ERR_BUILD, "kernel tar %s in %s: %s", tarname, img->ref,
                           archive_error_string(a));
    } else {
        char what[512];
        snprintf(what, sizeof what, "%s of kernel image %s", tarname, img->ref);
        rc = lkb_layer_apply_file(root, a, tn->blob->file, tn->blob->off, what, err);
    }
    archive_read_free(a);
out:
    lkb_tree_free(&kt);
    return rc;
}
