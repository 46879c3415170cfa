#include <lkb/disk/id.h>

#include <stdio.h>
#include <string.h>

/* FNV-1a then splitmix64: a few lines of well-known mixing instead of a
 * crypto library, enough for ids that must be stable and well spread. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t seed_state(const char *seed, const char *purpose)
{
    seed = seed ? seed : "";
    purpose = purpose ? purpose : "";
    /* The NUL separator keeps ("ab","c") and ("a","bc") apart. */
    uint64_t h = fnv1a(UINT64_C(0xcbf29ce484222325), seed, strlen(seed) + 1);
    return fnv1a(h, purpose, strlen(purpose));
}

uint32_t lkb_disk_id32(const char *seed, const char *purpose)
{
    uint64_t st = seed_state(seed, purpose);
    uint32_t v;
    do
        v = (uint32_t)(splitmix(&st) >> 32);
    while (v == 0);
    return v;
}

void lkb_disk_guid(const char *seed, const char *purpose, char out[LKB_DISK_GUID_LEN])
{
    uint64_t st = seed_state(seed, purpose);
    unsigned char b[16];
    for (int i = 0; i < 2; i++) {
        uint64_t r = splitmix(&st);
        for (int j = 0; j < 8; j++)
            b[i * 8 + j] = (unsigned char)(r >> (8 * j));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, LKB_DISK_GUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}
