/* The kernel section (build-and-outputs.md §4): boot/kernel, boot/cmdline,
 * boot/ucode.cpio, and kernel.tar unpacked into the root. */
#ifndef LKB_PIPELINE_KERNEL_H
#define LKB_PIPELINE_KERNEL_H

#include <jansson.h>
#include <stdbool.h>

#include "oci/oci.h"
#include "rootfs/tree.h"
#include "util/error.h"

struct lkb_kernel_out {
    struct lkb_blob *ucode; /* NULL when none */
};

int lkb_build_kernel_section(struct lkb_tree *root, struct lkb_image *img, const json_t *kernel,
                             bool decompress, struct lkb_kernel_out *out, struct lkb_error *err);

#endif
