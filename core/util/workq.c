#include "util/workq.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define WORKQ_MAX_THREADS 16

struct lkb_workq {
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a job was queued, or quit */
    pthread_cond_t done;  /* a job finished */
    struct lkb_work *head, *tail;
    bool quit;
    int n_threads;
    pthread_t threads[WORKQ_MAX_THREADS];
};

static void *worker(void *arg)
{
    struct lkb_workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->quit)
            pthread_cond_wait(&q->work, &q->mu);
        if (!q->head)
            break;
        /* The first of the costliest (jobs waiting are few). */
        struct lkb_work **at = &q->head, *prev = NULL;
        for (struct lkb_work *p = q->head, *before = NULL; p; before = p, p = p->next)
            if (p->cost > (*at)->cost) {
                at = before ? &before->next : &q->head;
                prev = before;
            }
        struct lkb_work *w = *at;
        *at = w->next;
        if (q->tail == w)
            q->tail = prev;
        pthread_mutex_unlock(&q->mu);
        w->fn(w->arg);
        pthread_mutex_lock(&q->mu);
        w->done = true;
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int lkb_workq_cpus(int max)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > max ? max : (int)cpus;
}

struct lkb_workq *lkb_workq_new(int threads)
{
    struct lkb_workq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    if (threads > WORKQ_MAX_THREADS)
        threads = WORKQ_MAX_THREADS;
    for (int i = 0; threads > 1 && i < threads; i++)
        if (pthread_create(&q->threads[q->n_threads], NULL, worker, q) == 0)
            q->n_threads++;
    return q;
}

void lkb_workq_submit(struct lkb_workq *q, struct lkb_work *w)
{
    w->next = NULL;
    w->done = false;
    if (!q->n_threads) {
        w->fn(w->arg);
        w->done = true;
        return;
    }
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
}

void lkb_workq_wait(struct lkb_workq *q, struct lkb_work *w)
{
    if (!q->n_threads)
        return;
    pthread_mutex_lock(&q->mu);
    while (!w->done)
        pthread_cond_wait(&q->done, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

bool lkb_workq_done(struct lkb_workq *q, struct lkb_work *w)
{
    if (!q->n_threads)
        return w->done;
    pthread_mutex_lock(&q->mu);
    bool d = w->done;
    pthread_mutex_unlock(&q->mu);
    return d;
}

void lkb_workq_free(struct lkb_workq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->quit = true;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->done);
    pthread_mutex_destroy(&q->mu);
    free(q);
}
