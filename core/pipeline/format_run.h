/* The adapter between the pipeline and formats (built in or plugins):
 * builds struct lkb_build_input, serves the image callbacks from the
 * build's image store, and runs every format's check, then build. */
#ifndef LKB_PIPELINE_FORMAT_RUN_H
#define LKB_PIPELINE_FORMAT_RUN_H

#include "pipeline/build_state.h"

/* Every format's check(), before anything is fetched; images the formats
 * require join the store's fetch phase. */
int lkb_format_run_checks(struct lkb_build_state *b, struct lkb_error *err);
/* Every format's build(), writing into b->stage. */
int lkb_format_run_builds(struct lkb_build_state *b, struct lkb_error *err);

#endif
