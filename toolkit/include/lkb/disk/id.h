/* Deterministic identifiers: volume serials, MBR disk ids, GPT GUIDs and
 * ext4 UUIDs derived from a seed string and a purpose, so the same inputs
 * always give the same image bytes, and different purposes (or seeds) give
 * different ids. Not for anything secret. */
#ifndef LKB_DISK_ID_H
#define LKB_DISK_ID_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LKB_DISK_GUID_LEN 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* A 32-bit id from (seed, purpose); NULL seed means "". Never 0. */
uint32_t lkb_disk_id32(const char *seed, const char *purpose);

/* A version-4-shaped GUID (RFC 4122 variant) from (seed, purpose), in
 * lower-case text form. */
void lkb_disk_guid(const char *seed, const char *purpose, char out[LKB_DISK_GUID_LEN]);

#ifdef __cplusplus
}
#endif

#endif
