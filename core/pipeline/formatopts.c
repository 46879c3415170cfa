#include "pipeline/formatopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/options.h"

static struct lkb_planned_format *find_planned(struct lkb_build_plan *plan, const char *name,
                                               size_t len)
{
    for (size_t i = 0; i < plan->n_formats; i++)
        if (strlen(plan->formats[i].name) == len && !strncmp(plan->formats[i].name, name, len))
            return &plan->formats[i];
    return NULL;
}

static const struct lkb_option_decl *declared(const struct lkb_planned_format *pf, const char *key)
{
    for (size_t i = 0; i < pf->fmt->fmt.n_options; i++)
        if (strcmp(pf->fmt->fmt.options[i].name, key) == 0)
            return &pf->fmt->fmt.options[i];
    return NULL;
}

/* ABI 1.0 formats cannot declare options: they take what they are given. */
static int takes_anything(const struct lkb_planned_format *pf) { return pf->fmt->abi_minor == 0; }

static int check_value(const struct lkb_planned_format *pf, const struct lkb_option_decl *d,
                       const struct lkb_option *o, struct lkb_error *err)
{
    uint64_t num;
    if (lkb_option_parse(d->type, o->value, &num, err) < 0)
        return lkb_error_prefix(err, "-format-opt %s=%s: format %s option %s: ", o->key, o->value,
                                pf->name, d->name);
    return 0;
}

/* "rpi3-img accepts data-size (size), ...; kernel+initrd accepts none" */
static void accepted(const struct lkb_build_plan *plan, const struct lkb_planned_format *only,
                     char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < plan->n_formats && len < size; i++) {
        const struct lkb_planned_format *pf = &plan->formats[i];
        if (only && pf != only)
            continue;
        char list[1024];
        if (takes_anything(pf))
            snprintf(list, sizeof list, "anything (ABI 1.0 plugin)");
        else
            lkb_option_describe(pf->fmt->fmt.options, pf->fmt->fmt.n_options, list, sizeof list);
        int w = snprintf(buf + len, size - len, "%s%s accepts %s", len ? "; " : "", pf->name, list);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static int validate(struct lkb_build_plan *plan, const struct lkb_option *o, struct lkb_error *err)
{
    char acc[2048];
    const char *dot = strrchr(o->key, '.');
    if (dot) {
        struct lkb_planned_format *pf = find_planned(plan, o->key, (size_t)(dot - o->key));
        if (!pf) {
            accepted(plan, NULL, acc, sizeof acc);
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "-format-opt %s=%s: format %.*s is not built by this command "
                                 "(%s)",
                                 o->key, o->value, (int)(dot - o->key), o->key, acc);
        }
        const struct lkb_option_decl *d = declared(pf, dot + 1);
        if (d)
            return check_value(pf, d, o, err);
        if (takes_anything(pf) && dot[1])
            return 0;
        accepted(plan, pf, acc, sizeof acc);
        return lkb_error_set(err, LKB_ERR_USAGE, "-format-opt %s=%s: format %s has no option '%s' (%s)",
                             o->key, o->value, pf->name, dot + 1, acc);
    }
    int any = 0;
    for (size_t i = 0; i < plan->n_formats; i++) {
        const struct lkb_option_decl *d = declared(&plan->formats[i], o->key);
        if (d && check_value(&plan->formats[i], d, o, err) < 0)
            return -1;
        any |= d || takes_anything(&plan->formats[i]);
    }
    if (any)
        return 0;
    accepted(plan, NULL, acc, sizeof acc);
    return lkb_error_set(err, LKB_ERR_USAGE,
                         "-format-opt %s=%s: no format of this build has an option '%s' (%s)",
                         o->key, o->value, o->key, acc);
}

/* The value of `key` for pf, or NULL: namespaced beats bare, later beats
 * earlier. *key_out is the key without its namespace. */
static const char *lookup(const struct lkb_planned_format *pf, const struct lkb_option *raw,
                          size_t n, const char *key)
{
    const char *bare = NULL, *ns = NULL;
    size_t flen = strlen(pf->name);
    for (size_t i = 0; i < n; i++) {
        const char *dot = strrchr(raw[i].key, '.');
        if (!dot && strcmp(raw[i].key, key) == 0)
            bare = raw[i].value;
        else if (dot && (size_t)(dot - raw[i].key) == flen &&
                 !strncmp(raw[i].key, pf->name, flen) && !strcmp(dot + 1, key))
            ns = raw[i].value;
    }
    return ns ? ns : bare;
}

static int push_opt(struct lkb_planned_format *pf, const char *key, const char *value)
{
    for (size_t i = 0; i < pf->n_opts; i++)
        if (strcmp(pf->opts[i].key, key) == 0)
            return 0;
    struct lkb_option *n = realloc(pf->opts, (pf->n_opts + 1) * sizeof *n);
    if (!n)
        return -1;
    pf->opts = n;
    n[pf->n_opts++] = (struct lkb_option){key, value};
    return 0;
}

static int assign(struct lkb_planned_format *pf, const struct lkb_option *raw, size_t n,
                  struct lkb_error *err)
{
    const struct lkb_format *f = &pf->fmt->fmt;
    if (f->n_options && !(pf->values = calloc(f->n_options, sizeof *pf->values)))
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < f->n_options; i++) {
        const struct lkb_option_decl *d = &f->options[i];
        struct lkb_option_value *v = &pf->values[pf->n_values++];
        const char *given = lookup(pf, raw, n, d->name);
        *v = (struct lkb_option_value){.struct_size = sizeof *v, .type = d->type, .name = d->name,
                                       .value = given ? given : d->default_value,
                                       .given = given != NULL};
        if (v->value && lkb_option_parse(d->type, v->value, &v->number, err) < 0)
            return -1; /* validated before: cannot happen */
        if (v->value && push_opt(pf, d->name, v->value) < 0)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (!takes_anything(pf))
        return 0;
    /* Latest first, so push_opt's first-wins keeps the latest value. */
    for (size_t i = n; i-- > 0;) {
        const char *dot = strrchr(raw[i].key, '.');
        const char *key = dot ? dot + 1 : raw[i].key;
        const char *value = lookup(pf, raw, n, key);
        if ((!dot || ((size_t)(dot - raw[i].key) == strlen(pf->name) &&
                      !strncmp(raw[i].key, pf->name, strlen(pf->name)))) &&
            push_opt(pf, key, value) < 0)
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

int lkb_format_opts_resolve(struct lkb_build_plan *plan, const struct lkb_option *raw, size_t n,
                            struct lkb_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (validate(plan, &raw[i], err) < 0)
            return -1;
    for (size_t i = 0; i < plan->n_formats; i++)
        if (assign(&plan->formats[i], raw, n, err) < 0)
            return -1;
    return 0;
}

void lkb_format_opts_free(struct lkb_planned_format *pf)
{
    free(pf->opts);
    free(pf->values);
    pf->opts = NULL;
    pf->values = NULL;
    pf->n_opts = pf->n_values = 0;
}
