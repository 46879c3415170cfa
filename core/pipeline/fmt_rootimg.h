/* The built-in formats kernel+squashfs and kernel+erofs: one build
 * function, the kind in the format's data. */
#ifndef LKB_PIPELINE_FMT_ROOTIMG_H
#define LKB_PIPELINE_FMT_ROOTIMG_H

#include <lkb/plugin.h>

struct lkb_rootimg;
extern const struct lkb_rootimg lkb_rootimg_squashfs, lkb_rootimg_erofs;

int lkb_rootimg_build(const struct lkb_host_api *api, lkb_host *host,
                      const struct lkb_build_input *in);

#endif
