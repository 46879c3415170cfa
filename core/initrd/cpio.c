#include "initrd/cpio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lkb_cpio_reset(struct lkb_cpio *c)
{
    c->len = 0;
    c->next_ino = 1;
}

void lkb_cpio_free(struct lkb_cpio *c)
{
    free(c->buf);
    memset(c, 0, sizeof *c);
}

static int reserve(struct lkb_cpio *c, size_t more, struct lkb_error *err)
{
    if (c->cap - c->len >= more)
        return 0;
    size_t cap = c->cap ? c->cap : 1u << 20;
    while (cap - c->len < more) {
        if (cap > SIZE_MAX / 2)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "initrd segment too large");
        cap *= 2;
    }
    unsigned char *b = realloc(c->buf, cap);
    if (!b)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory (initrd segment of %zu bytes)",
                             cap);
    c->buf = b;
    c->cap = cap;
    return 0;
}

int lkb_cpio_data(struct lkb_cpio *c, const void *data, size_t len, struct lkb_error *err)
{
    if (!len)
        return 0;
    if (reserve(c, len, err) < 0)
        return -1;
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    return 0;
}

int lkb_cpio_pad(struct lkb_cpio *c, struct lkb_error *err)
{
    static const unsigned char zero[4];
    return lkb_cpio_data(c, zero, (4 - (c->len & 3)) & 3, err);
}

int lkb_cpio_header(struct lkb_cpio *c, const char *name, const struct lkb_cpio_hdr *h,
                    struct lkb_error *err)
{
    if (h->size > UINT32_MAX)
        return lkb_error_set(err, LKB_ERR_BUILD,
                             "%s: %llu bytes, more than a cpio newc entry holds (4 GiB)", name,
                             (unsigned long long)h->size);
    size_t namesize = strlen(name) + 1;
    if (namesize > UINT32_MAX)
        return lkb_error_set(err, LKB_ERR_BUILD, "cpio entry name too long");
    int64_t mtime = h->mtime < 0 ? 0 : h->mtime > UINT32_MAX ? UINT32_MAX : h->mtime;
    char hdr[111];
    /* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
     * devminor, rdevmajor, rdevminor, namesize, check */
    snprintf(hdr, sizeof hdr,
             "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", h->ino, h->mode,
             h->uid, h->gid, h->nlink, (uint32_t)mtime, (uint32_t)h->size, 0u, 0u, h->rdev_major,
             h->rdev_minor, (uint32_t)namesize, 0u);
    if (lkb_cpio_data(c, hdr, 110, err) < 0 || lkb_cpio_data(c, name, namesize, err) < 0)
        return -1;
    return lkb_cpio_pad(c, err);
}

int lkb_cpio_trailer(struct lkb_cpio *c, struct lkb_error *err)
{
    struct lkb_cpio_hdr h = {.nlink = 1};
    return lkb_cpio_header(c, "TRAILER!!!", &h, err);
}
