#ifndef LKB_UTIL_WORKQ_H
#define LKB_UTIL_WORKQ_H

/* A fixed pool of worker threads taking the costliest queued job first,
 * in submission order among equal costs. The submitter keeps producing
 * while workers run and waits for one job only when it needs that job's
 * result, so producing, computing and writing overlap instead of
 * alternating in batches. */

#include <stdbool.h>

struct lkb_work {
    void (*fn)(void *arg);
    void *arg;
    /* An estimate of the work (bytes, say): of the jobs waiting, a free
     * worker takes the costliest, so the largest do not start last and
     * leave the other workers idle at the end. 0 for all: FIFO. */
    unsigned long long cost;
    /* Private to the queue. */
    struct lkb_work *next;
    bool done;
};

struct lkb_workq;

/* The online CPUs, at least 1 and at most max: a worker count. */
int lkb_workq_cpus(int max);
/* A queue with `threads` workers; with fewer than 2, or when no thread
 * could be started, jobs run on the submitting thread at submission.
 * NULL only when out of memory. */
struct lkb_workq *lkb_workq_new(int threads);
/* Queue w (fn and arg set); the queue owns it until it is waited for. */
void lkb_workq_submit(struct lkb_workq *q, struct lkb_work *w);
/* Block until w has run. */
void lkb_workq_wait(struct lkb_workq *q, struct lkb_work *w);
/* Whether w has run, without blocking. */
bool lkb_workq_done(struct lkb_workq *q, struct lkb_work *w);
/* Every submitted job must have been waited for. */
void lkb_workq_free(struct lkb_workq *q);

#endif
