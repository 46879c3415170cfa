/* Outputs of every format are written into a staging directory inside -dir
 * (the same file system, so committing is one rename per file) and move
 * to -dir only when every format succeeded: a failed build leaves -dir as
 * it was. */
#ifndef LKB_PIPELINE_STAGING_H
#define LKB_PIPELINE_STAGING_H

#include "util/error.h"

/* Create DIR/.lkb-staging-XXXXXX; *stage is malloc'd. */
int lkb_staging_create(const char *dir, char **stage, struct lkb_error *err);
/* Rename every entry of stage into dir (sorted by name, logged, each with
 * lkb_staging_place), then remove stage. Every target is checked first: an
 * output directory never replaces an existing entry. */
int lkb_staging_commit(const char *stage, const char *dir, struct lkb_error *err);
/* Move the staged file src to dst: renamed over it, unless dst is a file
 * of its own (one link) with the same mode and the same bytes, cheaply
 * known (lkb_fs_same_cached): then dst stays, only its mtime set to now,
 * and src is left for the stage's removal. */
int lkb_staging_place(const char *src, const char *dst, struct lkb_error *err);
/* Remove stage and everything in it. */
void lkb_staging_discard(const char *stage);

#endif
