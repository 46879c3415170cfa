/* A growable list of strings: the process-wide -cert-file and -cache-ro
 * lists and a read-only cache's known-corrupt blobs. */
#include <stdlib.h>
#include <string.h>

#include "oci/internal.h"

int oci_strlist_add(struct oci_strlist *l, const char *s, struct lkb_error *err)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    l->v = v;
    if (!(v[l->n] = strdup(s)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    l->n++;
    return 0;
}

bool oci_strlist_has(const struct oci_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

void oci_strlist_clear(struct oci_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
