#include "pipeline/images.h"

#include <stdlib.h>
#include <string.h>

void lkb_image_store_init(struct lkb_image_store *s, struct lkb_cache *cache,
                          const struct lkb_pull_opts *pull, const char *arch)
{
    memset(s, 0, sizeof *s);
    s->cache = cache;
    s->pull = pull;
    s->arch = arch;
}

void lkb_image_store_free(struct lkb_image_store *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].ref);
        free(s->items[i].platform);
        lkb_image_free(s->items[i].img);
    }
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

static struct lkb_stored_image *find(const struct lkb_image_store *s, const char *ref,
                                     const char *platform)
{
    if (!platform)
        platform = s->arch;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].ref, ref) == 0 && strcmp(s->items[i].platform, platform) == 0)
            return &s->items[i];
    return NULL;
}

int lkb_image_store_want(struct lkb_image_store *s, const char *ref, const char *platform,
                         struct lkb_error *err)
{
    if (!ref || !*ref || find(s, ref, platform))
        return 0;
    struct lkb_stored_image *n = realloc(s->items, (s->n + 1) * sizeof *n);
    if (!n)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    s->items = n;
    n[s->n] = (struct lkb_stored_image){strdup(ref), strdup(platform ? platform : s->arch), NULL};
    if (!n[s->n].ref || !n[s->n].platform) {
        free(n[s->n].ref);
        free(n[s->n].platform);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    s->n++;
    return 0;
}

int lkb_image_store_fetch(struct lkb_image_store *s, struct lkb_error *err)
{
    size_t todo = 0;
    for (size_t i = 0; i < s->n; i++)
        todo += !s->items[i].img;
    if (!todo)
        return 0;
    struct lkb_pull_request *reqs = calloc(todo, sizeof *reqs);
    size_t *idx = calloc(todo, sizeof *idx);
    if (!reqs || !idx) {
        free(reqs);
        free(idx);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->items[i].img) {
            reqs[k].ref = s->items[i].ref;
            reqs[k].arch = s->items[i].platform;
            idx[k++] = i;
        }
    int rc = lkb_oci_pull_many(s->cache, reqs, todo, s->pull, err);
    for (k = 0; rc == 0 && k < todo; k++)
        s->items[idx[k]].img = reqs[k].image;
    free(reqs);
    free(idx);
    return rc;
}

struct lkb_image *lkb_image_store_lookup(const struct lkb_image_store *s, const char *ref,
                                         const char *platform)
{
    struct lkb_stored_image *e = ref ? find(s, ref, platform) : NULL;
    return e ? e->img : NULL;
}

int lkb_image_store_get(struct lkb_image_store *s, const char *ref, const char *platform,
                        struct lkb_image **out, struct lkb_error *err)
{
    if (lkb_image_store_want(s, ref, platform, err) < 0)
        return -1;
    struct lkb_stored_image *e = find(s, ref, platform);
    if (!e->img && lkb_oci_pull(s->cache, ref, e->platform, s->pull, &e->img, err) < 0)
        return -1;
    *out = e->img;
    return 0;
}
