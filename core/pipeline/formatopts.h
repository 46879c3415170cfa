/* -format-opt values to the formats of a build: `FORMAT.KEY=VALUE` for
 * one format, bare `KEY=VALUE` for every format declaring KEY. Unknown
 * and ill-typed options fail here, before anything is fetched. */
#ifndef LKB_PIPELINE_FORMATOPTS_H
#define LKB_PIPELINE_FORMATOPTS_H

#include <lkb/plugin.h>
#include <stddef.h>

#include "pipeline/plan.h"
#include "util/error.h"

/* Fill every planned format's opts/values from the raw options. ABI 1.0
 * formats declare nothing: they get every bare option and their own
 * namespaced ones, unchecked, as before. */
int lkb_format_opts_resolve(struct lkb_build_plan *plan, const struct lkb_option *raw, size_t n,
                            struct lkb_error *err);
void lkb_format_opts_free(struct lkb_planned_format *pf);

#endif
