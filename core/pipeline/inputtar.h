/* -input-tar FILE: incremental rebuilds from a previous tar output, as
 * LinuxKit does (build-and-outputs.md §11). The previous configuration is
 * read from the tar (the last `files` entry with `metadata`); a section
 * whose configuration is unchanged is copied from the tar by its
 * LINUXKIT.source/location records instead of being fetched and built.
 *
 * lkb's tree keeps one entry per path, so the tar does not show what a
 * later section overwrote; after the layout lkb checks that every entry
 * the tar owes to a rebuilt section was written again by one, and
 * otherwise builds everything (lkb_input_tar_sound). */
#ifndef LKB_PIPELINE_INPUTTAR_H
#define LKB_PIPELINE_INPUTTAR_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "rootfs/tree.h"
#include "util/error.h"

struct lkb_input_tar;

/* Index the tar and decide what can be copied. *out is NULL (nothing to
 * reuse, a full build) when the configuration has no metadata file or the
 * tar lacks it, as in LinuxKit. */
int lkb_input_tar_open(const char *path, const struct lkb_config *cfg,
                       struct lkb_input_tar **out, struct lkb_error *err);
void lkb_input_tar_free(struct lkb_input_tar *it);

/* Whether section[idx] ("init", 0; "kernel" has idx 0) is copied. */
bool lkb_input_tar_reuses(const struct lkb_input_tar *it, const char *section, size_t idx);
/* Copy section[idx]'s entries into root (origin set as for a build). */
int lkb_input_tar_copy(struct lkb_input_tar *it, struct lkb_tree *root, const char *section,
                       size_t idx, struct lkb_error *err);
/* After the layout: false when an entry of the tar that a rebuilt section
 * wrote is missing now (then the copies may lack what it had overwritten;
 * the caller builds everything). */
bool lkb_input_tar_sound(struct lkb_input_tar *it, struct lkb_tree *root);
/* Stop reusing anything (after an unsound result). */
void lkb_input_tar_reuse_none(struct lkb_input_tar *it);

#endif
