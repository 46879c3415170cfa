/* Download progress: one self-rewriting status line on a terminal and a
 * finished line per image; on a non-terminal only the finished lines, and
 * only when verbose. This is the one place core/oci writes to stderr
 * directly, because a carriage-return status line is not a log message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/internal.h"
#include "util/log.h"

struct slot {
    char *name;
    uint64_t total;
    int64_t done;
    bool finished;
};

struct oci_progress {
    bool tty, verbose, line_shown;
    struct slot *slots;
    size_t n;
    long long last_draw;
};

struct oci_progress *oci_progress_new(const struct lkb_pull_opts *opts)
{
    struct oci_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->tty = !(opts && opts->no_progress) && isatty(STDERR_FILENO) &&
             lkb_log_get_level() >= LKB_LOG_INFO;
    p->verbose = (opts && opts->verbose) || lkb_log_get_level() >= LKB_LOG_DEBUG;
    return p;
}

size_t oci_progress_add(struct oci_progress *p, const char *name)
{
    if (!p)
        return 0;
    struct slot *s = realloc(p->slots, (p->n + 1) * sizeof *s);
    if (!s)
        return 0;
    p->slots = s;
    memset(&s[p->n], 0, sizeof *s);
    s[p->n].name = strdup(name);
    return p->n++;
}

void oci_progress_expect(struct oci_progress *p, size_t slot, uint64_t bytes)
{
    if (p && slot < p->n)
        p->slots[slot].total += bytes;
}

void oci_progress_advance(struct oci_progress *p, size_t slot, int64_t bytes)
{
    if (p && slot < p->n)
        p->slots[slot].done += bytes;
}

static void clear_line(struct oci_progress *p)
{
    if (p->line_shown) {
        fputs("\r\033[K", stderr);
        p->line_shown = false;
    }
}

void oci_progress_draw(struct oci_progress *p, bool force)
{
    if (!p || !p->tty)
        return;
    long long now = (long long)(lkb_now_s() * 1000);
    if (!force && now - p->last_draw < 200)
        return;
    p->last_draw = now;
    char line[160];
    size_t used = 0, active = 0;
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = &p->slots[i];
        if (s->finished || s->total == 0)
            continue;
        if (active++ == 0)
            used = (size_t)snprintf(line, sizeof line, "Pulling %.60s %5.1f/%.1f MB", s->name,
                                    (double)(s->done > 0 ? s->done : 0) / 1e6,
                                    (double)s->total / 1e6);
    }
    if (!active)
        return;
    if (active > 1 && used < sizeof line)
        snprintf(line + used, sizeof line - used, " (+%zu more)", active - 1);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->line_shown = true;
}

void oci_progress_done(struct oci_progress *p, size_t slot, bool cached)
{
    if (!p || slot >= p->n || p->slots[slot].finished)
        return;
    struct slot *s = &p->slots[slot];
    s->finished = true;
    if (cached)
        return;
    if (p->tty) {
        clear_line(p);
        fprintf(stderr, "Pulled %s (%.1f MB)\n", s->name, (double)s->total / 1e6);
        oci_progress_draw(p, true);
    } else if (p->verbose) {
        lkb_info("Pulled %s (%.1f MB)", s->name, (double)s->total / 1e6);
    }
}

void oci_progress_free(struct oci_progress *p)
{
    if (!p)
        return;
    clear_line(p);
    for (size_t i = 0; i < p->n; i++)
        free(p->slots[i].name);
    free(p->slots);
    free(p);
}
