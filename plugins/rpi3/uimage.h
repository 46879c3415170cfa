/* The uImage writer moved to the disk toolkit (<lkb/disk/uimage.h>); this
 * keeps the old name of the header size for bootscr.c. */
#ifndef LKB_RPI3_UIMAGE_H
#define LKB_RPI3_UIMAGE_H

#include <lkb/disk/uimage.h>

#define UIMAGE_HEADER_SIZE LKB_UIMAGE_HEADER_SIZE

#endif
