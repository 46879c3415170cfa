/* The files section (build-and-outputs.md §8). */
#ifndef LKB_PIPELINE_FILES_H
#define LKB_PIPELINE_FILES_H

#include "config/config.h"
#include "rootfs/tree.h"
#include "util/error.h"

int lkb_build_files_section(struct lkb_tree *root, const struct lkb_config *cfg,
                            struct lkb_error *err);

#endif
