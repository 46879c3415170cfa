#include "pipeline/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/builtin_formats.h"
#include "pipeline/formatopts.h"
#include "util/arch.h"

static int streamable(const struct lkb_loaded_format *f)
{
    return f && lkb_format_is_builtin(f) && lkb_builtin_streamable(&f->fmt);
}

char *lkb_build_default_name(const char *config)
{
    if (strcmp(config, "-") == 0)
        return strdup("moby");
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return strndup(base, len);
}

/* "unknown format type x" plus what is available and what was refused, so
 * a missing plugin is easy to diagnose. */
static int unknown_format(const struct lkb_plugin_set *plugins, const char *name,
                          struct lkb_error *err)
{
    char avail[1024] = "";
    size_t n = 0;
    for (size_t i = 0; plugins && i < plugins->n_formats && n < sizeof avail; i++)
        n += (size_t)snprintf(avail + n, sizeof avail - n, "%s%s", n ? ", " : "",
                              plugins->formats[i].fmt.name);
    lkb_error_set(err, LKB_ERR_USAGE, "unknown format type %s (available: %s)", name, avail);
    for (size_t i = 0; plugins && i < plugins->n_refused; i++) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, "; refused plugin %s: %s",
                 plugins->refused[i].path, plugins->refused[i].reason);
    }
    return -1;
}

static int supports_arch(const struct lkb_format *f, const char *arch)
{
    if (!f->arches)
        return 1;
    for (const char *const *a = f->arches; *a; a++)
        if (strcmp(*a, arch) == 0)
            return 1;
    return 0;
}

/* The same path, or two names of one file (LinuxKit compares strings). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!strcmp(a, b))
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int lkb_build_plan_make(const struct lkb_build_opts *o, const struct lkb_plugin_set *plugins,
                        struct lkb_build_plan *plan, struct lkb_error *err)
{
    memset(plan, 0, sizeof *plan);
    plan->arch = o->arch ? o->arch : lkb_arch_host();

    static const char *const default_kernel[] = {"kernel+initrd"};
    static const char *const default_tar[] = {"tar"};
    const char *const *names = (const char *const *)o->formats;
    size_t n = o->n_formats;
    if (n == 0) {
        names = o->output ? default_tar : default_kernel;
        n = 1;
    }

    if (n > 1) {
        for (size_t i = 0; i < n; i++)
            if (streamable(lkb_plugin_set_find(plugins, names[i])))
                return lkb_error_set(err, LKB_ERR_USAGE,
                                     "format type %s must be the only format specified", names[i]);
    }
    if (o->input_tar && o->pull)
        return lkb_error_set(err, LKB_ERR_USAGE, "cannot use -input-tar and -pull together");
    if (o->input_tar && o->output && same_file(o->input_tar, o->output))
        return lkb_error_set(err, LKB_ERR_USAGE, "input-tar and output file cannot be the same");
    if (o->output) {
        if (n > 1) {
            char list[512] = "";
            for (size_t i = 0, len = 0; i < n && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                        names[i]);
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option can only be specified when generating a "
                                 "single output format (got %s; use -dir and -name)",
                                 list);
        }
        if (o->name)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified with -name");
        if (o->dir)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified with -dir");
        const struct lkb_loaded_format *f = lkb_plugin_set_find(plugins, names[0]);
        if (strcmp(o->output, "-") == 0 && f && !streamable(f))
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified for build type %s as it "
                                 "cannot be streamed (-o - is stdout; -o FILE works)",
                                 names[0]);
        /* -o FILE takes any format that writes one file; a plugin format
         * writing several is refused after its build (pipeline.c). */
        const char *outs = f && lkb_format_is_builtin(f) ? lkb_builtin_outputs(&f->fmt) : NULL;
        if (outs)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified for build type %s: it "
                                 "writes several files (%s); use -dir and -name",
                                 names[0], outs);
    }

    plan->formats = calloc(n, sizeof *plan->formats);
    if (!plan->formats)
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct lkb_planned_format *pf = &plan->formats[plan->n_formats];
        for (size_t j = 0; j < plan->n_formats; j++)
            if (strcmp(plan->formats[j].name, names[i]) == 0)
                goto next; /* -format x -format x builds x once */
        pf->name = names[i];
        pf->fmt = lkb_plugin_set_find(plugins, names[i]);
        if (!pf->fmt) {
            lkb_build_plan_free(plan);
            return unknown_format(plugins, names[i], err);
        }
        if (!supports_arch(&pf->fmt->fmt, plan->arch)) {
            const char *arch = plan->arch;
            lkb_build_plan_free(plan);
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "format %s does not support architecture %s (use -arch)",
                                 names[i], arch);
        }
        plan->n_formats++;
    next:;
    }

    plan->name = o->name ? strdup(o->name) : lkb_build_default_name(o->configs[o->n_configs - 1]);
    plan->dir = strdup(o->dir ? o->dir : ".");
    if (!plan->name || !plan->dir) {
        lkb_build_plan_free(plan);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    if (lkb_format_opts_resolve(plan, o->format_opts, o->n_format_opts, err) < 0) {
        lkb_build_plan_free(plan);
        return -1;
    }
    if (o->output && !(plan->output_file = strdup(o->output))) {
        lkb_build_plan_free(plan);
        return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
    }
    return 0;
}

void lkb_build_plan_free(struct lkb_build_plan *plan)
{
    free(plan->name);
    free(plan->dir);
    free(plan->output_file);
    for (size_t i = 0; i < plan->n_formats; i++)
        lkb_format_opts_free(&plan->formats[i]);
    free(plan->formats);
    memset(plan, 0, sizeof *plan);
}
