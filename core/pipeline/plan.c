#include "pipeline/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arch.h"

static const struct lkb_builtin_info builtins[] = {
    {"kernel+initrd", "kernel, compressed cpio initrd and cmdline files", LKB_FMT_KERNEL_INITRD,
     false},
    {"tar", "the root file system as a tar (streamable, -o)", LKB_FMT_TAR, true},
    {"tar-kernel-initrd", "a tar holding kernel, initrd.img, cmdline, ucode.cpio",
     LKB_FMT_TAR_KERNEL_INITRD, false},
};

const struct lkb_builtin_info *lkb_builtin_formats(size_t *n)
{
    *n = sizeof builtins / sizeof *builtins;
    return builtins;
}

static const struct lkb_builtin_info *find_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
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
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        n += (size_t)snprintf(avail + n, n < sizeof avail ? sizeof avail - n : 0, "%s%s",
                              n ? ", " : "", builtins[i].name);
    for (size_t i = 0; plugins && i < plugins->n_formats && n < sizeof avail; i++)
        n += (size_t)snprintf(avail + n, sizeof avail - n, ", %s", plugins->formats[i].fmt.name);
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

    size_t n_stream = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lkb_builtin_info *b = find_builtin(names[i]);
        if (b && b->streamable)
            n_stream++;
    }
    if (n_stream && n > 1) {
        for (size_t i = 0; i < n; i++) {
            const struct lkb_builtin_info *b = find_builtin(names[i]);
            if (b && b->streamable)
                return lkb_error_set(err, LKB_ERR_USAGE,
                                     "format type %s must be the only format specified", b->name);
        }
    }
    if (o->output) {
        if (n > 1)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option can only be specified when generating a "
                                 "single output format");
        if (o->name)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified with -name");
        if (o->dir)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified with -dir");
        const struct lkb_builtin_info *b = find_builtin(names[0]);
        if (!b || !b->streamable)
            return lkb_error_set(err, LKB_ERR_USAGE,
                                 "the -output option cannot be specified for build type %s as it "
                                 "cannot be streamed",
                                 names[0]);
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
        const struct lkb_builtin_info *b = find_builtin(names[i]);
        if (b) {
            pf->builtin = b->id;
        } else {
            pf->plugin = plugins ? lkb_plugin_set_find(plugins, names[i]) : NULL;
            if (!pf->plugin) {
                lkb_build_plan_free(plan);
                return unknown_format(plugins, names[i], err);
            }
            if (!supports_arch(&pf->plugin->fmt, plan->arch)) {
                const char *arch = plan->arch;
                lkb_build_plan_free(plan);
                return lkb_error_set(err, LKB_ERR_USAGE,
                                     "format %s does not support architecture %s (use -arch)",
                                     names[i], arch);
            }
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
    if (plan->n_formats == 1 && plan->formats[0].builtin == LKB_FMT_TAR) {
        if (o->output) {
            plan->output_file = strdup(o->output);
        } else {
            size_t len = strlen(plan->dir) + strlen(plan->name) + 8;
            plan->output_file = malloc(len);
            if (plan->output_file)
                snprintf(plan->output_file, len, "%s/%s.tar", plan->dir, plan->name);
        }
        if (!plan->output_file) {
            lkb_build_plan_free(plan);
            return lkb_error_set(err, LKB_ERR_INTERNAL, "out of memory");
        }
    }
    return 0;
}

void lkb_build_plan_free(struct lkb_build_plan *plan)
{
    free(plan->name);
    free(plan->dir);
    free(plan->output_file);
    free(plan->formats);
    memset(plan, 0, sizeof *plan);
}
