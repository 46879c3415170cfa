/* The work queue runs every job exactly once, on other threads when it has
 * them, and a wait returns only after the job ran; a temporary directory
 * marks the files inside it (not itself, not a sibling with the same
 * prefix) as scratch. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "util/tempfiles.h"
#include "util/workq.h"

struct job {
    struct lkb_work w;
    atomic_int runs;
    pthread_t ran_on;
    int value, out;
};

static void run(void *arg)
{
    struct job *j = arg;
    /* Slow enough that jobs overlap and the submitter gets ahead. */
    usleep(2000);
    j->out = j->value * 2;
    j->ran_on = pthread_self();
    atomic_fetch_add(&j->runs, 1);
}

static void submit_all(struct lkb_workq *q, struct job *jobs, int n)
{
    for (int i = 0; i < n; i++) {
        jobs[i].value = i;
        jobs[i].w = (struct lkb_work){.fn = run, .arg = &jobs[i]};
        lkb_workq_submit(q, &jobs[i].w);
    }
}

Test(workq, every_job_runs_once_on_worker_threads)
{
    enum { N = 64 };
    static struct job jobs[N];
    struct lkb_workq *q = lkb_workq_new(4);
    cr_assert_not_null(q);
    submit_all(q, jobs, N);
    /* Wait in reverse order: a wait is for that job, not the queue's head. */
    for (int i = N; i-- > 0;) {
        lkb_workq_wait(q, &jobs[i].w);
        cr_assert(lkb_workq_done(q, &jobs[i].w));
        cr_assert_eq(jobs[i].out, 2 * i);
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(atomic_load(&jobs[i].runs), 1, "job %d ran %d times", i,
                     atomic_load(&jobs[i].runs));
        cr_assert(!pthread_equal(jobs[i].ran_on, pthread_self()), "job %d ran on the submitter",
                  i);
    }
    lkb_workq_free(q);
}

Test(workq, one_thread_runs_jobs_at_submission)
{
    static struct job jobs[3];
    struct lkb_workq *q = lkb_workq_new(1);
    cr_assert_not_null(q);
    submit_all(q, jobs, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert(lkb_workq_done(q, &jobs[i].w), "job %d not run at submission", i);
        cr_assert(pthread_equal(jobs[i].ran_on, pthread_self()));
        lkb_workq_wait(q, &jobs[i].w);
    }
    lkb_workq_free(q);
}

Test(tempfiles, inside_a_registered_directory)
{
    lkb_temp_register("/tmp/lkb-build.1-abc", true);
    lkb_temp_register("/tmp/lkb-file.1-abc", false);
    cr_assert(lkb_temp_inside("/tmp/lkb-build.1-abc/initrd.img"));
    cr_assert(lkb_temp_inside("/tmp/lkb-build.1-abc/dtb/x.dtb"));
    cr_assert(!lkb_temp_inside("/tmp/lkb-build.1-abc"));
    cr_assert(!lkb_temp_inside("/tmp/lkb-build.1-abcd/initrd.img"));
    cr_assert(!lkb_temp_inside("/tmp/lkb-file.1-abc/x"), "a registered file is no directory");
    lkb_temp_forget("/tmp/lkb-build.1-abc");
    cr_assert(!lkb_temp_inside("/tmp/lkb-build.1-abc/initrd.img"));
    lkb_temp_forget("/tmp/lkb-file.1-abc");
}

/* Of the jobs waiting, a free worker takes the costliest (the first of
 * equal ones): both workers are held busy while five jobs queue up, then
 * one is let go and runs them all. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate[2], started;
static int order[8], n_order;

static void blocker(void *arg)
{
    int *open = arg;
    pthread_mutex_lock(&gate_mu);
    started++;
    pthread_cond_broadcast(&gate_cv);
    while (!*open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void record(void *arg)
{
    pthread_mutex_lock(&gate_mu);
    order[n_order++] = *(int *)arg;
    pthread_mutex_unlock(&gate_mu);
}

static void open_gate(int i)
{
    pthread_mutex_lock(&gate_mu);
    gate[i] = 1;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

Test(workq, costliest_waiting_job_first)
{
    struct lkb_workq *q = lkb_workq_new(2);
    cr_assert_not_null(q);
    struct lkb_work hold[2];
    for (int i = 0; i < 2; i++) {
        hold[i] = (struct lkb_work){.fn = blocker, .arg = &gate[i]};
        lkb_workq_submit(q, &hold[i]);
    }
    pthread_mutex_lock(&gate_mu);
    while (started < 2)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    static const unsigned long long costs[] = {1, 30, 20, 30, 0};
    static int ids[] = {0, 1, 2, 3, 4};
    struct lkb_work w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (struct lkb_work){.fn = record, .arg = &ids[i], .cost = costs[i]};
        lkb_workq_submit(q, &w[i]);
    }
    open_gate(0);
    for (int i = 0; i < 5; i++)
        lkb_workq_wait(q, &w[i]);
    open_gate(1);
    lkb_workq_wait(q, &hold[0]);
    lkb_workq_wait(q, &hold[1]);
    lkb_workq_free(q);
    cr_assert_eq(n_order, 5);
    int want[] = {1, 3, 2, 0, 4};
    for (int i = 0; i < 5; i++)
        cr_expect_eq(order[i], want[i], "ran %d %d %d %d %d, want 1 3 2 0 4", order[0], order[1],
                     order[2], order[3], order[4]);
}
