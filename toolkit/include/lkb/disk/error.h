/* Error object of the lkb disk toolkit (liblkb-disk).
 *
 * Every fallible toolkit function returns 0 on success or -1 after writing
 * a human-readable message here; it never prints and never exits. A plugin
 * passes the message on with api->set_error(host, "%s", err.msg). */
#ifndef LKB_DISK_ERROR_H
#define LKB_DISK_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LKB_DISK_ERROR_MAX 4096

struct lkb_disk_error {
    char msg[LKB_DISK_ERROR_MAX];
};

#ifdef __cplusplus
}
#endif

#endif
