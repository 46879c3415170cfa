/* The formats compiled into lkb (kernel+initrd, tar, tar-kernel-initrd),
 * as a static struct lkb_plugin registered through the same table as
 * plugins: one way to run a format, one `lkb formats` list. */
#ifndef LKB_PIPELINE_BUILTIN_FORMATS_H
#define LKB_PIPELINE_BUILTIN_FORMATS_H

#include <lkb/plugin.h>

const struct lkb_plugin *lkb_builtin_plugin(void);
/* 1 for formats that can write a single stream (-o FILE or -o -). */
int lkb_builtin_streamable(const struct lkb_format *f);
/* The files a built-in format writes when it writes several ("NAME-kernel,
 * NAME-initrd.img, NAME-cmdline"), or NULL when it writes one file and so
 * takes -o FILE. */
const char *lkb_builtin_outputs(const struct lkb_format *f);
/* 1 for the built-in formats that read the initrd (made on demand). */
int lkb_builtin_reads_initrd(const struct lkb_format *f);

#endif
