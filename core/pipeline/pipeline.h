/* `lkb build` after planning: fetch every image, lay out the root file
 * system, write the initrd and built-in outputs, run format plugins. */
#ifndef LKB_PIPELINE_PIPELINE_H
#define LKB_PIPELINE_PIPELINE_H

#include "pipeline/options.h"
#include "pipeline/plan.h"
#include "config/config.h"
#include "plugin/loader.h"
#include "util/error.h"

int lkb_build_run(const struct lkb_build_opts *opts, const struct lkb_build_plan *plan,
                  const struct lkb_plugin_set *plugins, const struct lkb_config *cfg,
                  struct lkb_error *err);

#endif
