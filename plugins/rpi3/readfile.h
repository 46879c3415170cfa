/* Whole-file reads for the rpi3 plugin (which links nothing of lkb). */
#ifndef LKB_RPI3_READFILE_H
#define LKB_RPI3_READFILE_H

#include <stddef.h>

/* Read path into a malloc'd buffer (NUL-terminated, *size excludes it).
 * Returns 0, or -1 with errno set. */
int rpi3_read_file(const char *path, unsigned char **data, size_t *size);

#endif
