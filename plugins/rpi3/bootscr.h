/* The u-boot script (boot.scr) that boots lkb's kernel and initrd. */
#ifndef LKB_RPI3_BOOTSCR_H
#define LKB_RPI3_BOOTSCR_H

#include <stdint.h>

/* Physical addresses used by the script. The kernel uImage is loaded 64
 * bytes below a 2 MiB boundary so the Image itself is aligned and booti
 * runs it in place. */
#define RPI3_KERNEL_IMAGE_ADDR 0x00200000u
#define RPI3_FDT_ADDR 0x04000000u
#define RPI3_INITRD_ADDR 0x04100000u

/* Script text for cmdline; NULL if the cmdline cannot be expressed (a
 * single quote, backslash or newline in it). malloc'd. */
char *rpi3_boot_script(const char *cmdline);

#endif
