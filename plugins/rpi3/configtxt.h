/* config.txt for the Raspberry Pi GPU firmware: 64-bit u-boot as the
 * "kernel", the mini UART on the header pins, the board's device tree
 * loaded (and overlays applied) by the firmware, then the user's additions
 * from -format-opt config-txt-file=PATH and config-txt-append=TEXT. */
#ifndef LKB_RPI3_CONFIGTXT_H
#define LKB_RPI3_CONFIGTXT_H

#include <lkb/plugin.h>
#include <stddef.h>

/* The whole file (malloc'd, *len bytes), or NULL after api->set_error (an
 * unreadable file, or an addition that would stop the boot). */
char *rpi3_config_txt(const struct lkb_host_api *api, lkb_host *host, size_t *len);

#endif
