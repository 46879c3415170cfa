/* libFuzzer target: an OCI layer is hostile input. Applying any tar (plain
 * or gzip) must never crash, leak or escape: it is applied twice (the
 * second time over the first, for whiteouts, opaque markers and type
 * changes), then written as the initrd's cpio, as the build does. */
#include <archive.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/archive_out.h"
#include "rootfs/layer.h"
#include "rootfs/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static la_ssize_t discard(struct archive *a, void *ctx, const void *buf, size_t len)
{
    (void)a, (void)ctx, (void)buf;
    return (la_ssize_t)len;
}

static void apply(struct lkb_tree *t, const uint8_t *data, size_t size)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    /* gzip only: zstd and xz reach ratios whose output would only fill the
     * disk (spilled files), not find bugs. */
    archive_read_support_filter_gzip(a);
    struct lkb_error err;
    if (archive_read_open_memory(a, data, size) == ARCHIVE_OK &&
        lkb_layer_apply(t, a, "sha256:fuzz", &err) < 0 &&
        strstr(err.msg, "sha256:fuzz") == NULL && err.kind != LKB_ERR_INTERNAL)
        abort(); /* every layer error names the layer */
    archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lkb_tree t;
    lkb_tree_init(&t, 0);
    apply(&t, data, size);
    apply(&t, data, size);
    for (size_t i = 0; i < t.n; i++) /* nothing escapes the root */
        if (!t.nodes[i].removed &&
            (t.nodes[i].path[0] == '/' || strstr(t.nodes[i].path, "../") ||
             strcmp(t.nodes[i].path, "..") == 0))
            abort();
    struct archive *w = archive_write_new();
    archive_write_set_format_cpio_newc(w);
    struct lkb_error err;
    if (archive_write_open2(w, NULL, NULL, discard, NULL, NULL) == ARCHIVE_OK)
        lkb_tree_write_archive(&t, w, NULL, NULL, -1, &err);
    archive_write_free(w);
    lkb_tree_free(&t);
    return 0;
}
