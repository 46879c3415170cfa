#include "build/pipeline.h"

int lkb_build_run(const struct lkb_build_opts *opts, const struct lkb_build_plan *plan,
                  const struct lkb_plugin_set *plugins, const struct lkb_config *cfg,
                  struct lkb_error *err)
{
    (void)opts;
    (void)plan;
    (void)plugins;
    (void)cfg;
    return lkb_error_set(err, LKB_ERR_INTERNAL, "the build pipeline is not implemented yet");
}
