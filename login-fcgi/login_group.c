/* login_group.c -- concurrent logins stored in batches (see login_group.h).
 *
 * The workers are coroutines on the event loops of login-fcgi's threads;
 * one mutex guards the queue and the stack of idle stores. A queued login
 * is owned by the stack frame of the worker waiting for it, which sleeps
 * (loop_sleep) until it is done or may lead: a leader takes logins off the
 * queue, runs them without the lock (the other workers run while it waits
 * for PostgreSQL), marks each done under the lock and wakes exactly their
 * workers, in whichever loop each sleeps (loop_wake_in), and first the
 * worker of the next queued login, to lead the next batch. */
#include "login_group.h"

#include "loop.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct queued {
    struct store_login_job job;
    bool done;
    struct loop *loop;        /* where its worker sleeps */
    struct loop_sleeper wake; /* done, or may lead a batch */
    struct queued *next;
};

struct login_group {
    pthread_mutex_t lock;
    struct queued *head, **tail;
    struct store **idle; /* stores no batch is running on */
    size_t n_idle, max_batch;
    login_group_run_fn run;
};

struct login_group *login_group_new(size_t max_batch, struct store *const *stores, size_t n_stores,
                                    login_group_run_fn run)
{
    struct login_group *g = xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    g->tail = &g->head;
    g->idle = xcalloc(n_stores, sizeof(*g->idle));
    memcpy(g->idle, stores, n_stores * sizeof(*g->idle));
    g->n_idle = n_stores;
    g->max_batch = max_batch ? max_batch : 1;
    g->run = run;
    return g;
}

void login_group_free(struct login_group *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g->idle);
    free(g);
}

static bool openid_taken(struct queued *const *batch, size_t n, const char *openid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(batch[i]->job.in->openid, openid) == 0)
            return true;
    return false;
}

/* Move up to max_batch queued logins, in queue order and at most one per
 * openid, into batch; returns how many. Called with the lock held. */
static size_t take_batch(struct login_group *g, struct queued **batch)
{
    size_t n = 0;
    struct queued **link = &g->head;
    while (*link && n < g->max_batch) {
        struct queued *q = *link;
        if (openid_taken(batch, n, q->job.in->openid)) {
            link = &q->next; /* stays queued for a later batch */
            continue;
        }
        *link = q->next;
        batch[n++] = q;
    }
    g->tail = &g->head;
    while (*g->tail)
        g->tail = &(*g->tail)->next;
    return n;
}

/* Lead one batch: take it and an idle store, run it without the lock, hand
 * out the results and wake their workers, and first the worker of the
 * next queued login, so that it leads the next batch. Called and returns
 * with the lock held. */
static void lead_batch(struct login_group *g)
{
    struct queued **batch = xcalloc(g->max_batch, sizeof(*batch));
    size_t n = take_batch(g, batch);
    struct store *st = g->idle[--g->n_idle];
    pthread_mutex_unlock(&g->lock);

    struct store_login_job *jobs = xcalloc(n, sizeof(*jobs));
    for (size_t i = 0; i < n; i++)
        jobs[i] = batch[i]->job;
    loop_urgent(true); /* every queued login waits for this batch */
    g->run(st, jobs, n);
    loop_urgent(false);

    pthread_mutex_lock(&g->lock);
    g->idle[g->n_idle++] = st;
    if (g->head) /* first: its batch goes to PostgreSQL before these answers */
        loop_wake_in(g->head->loop, &g->head->wake);
    for (size_t i = 0; i < n; i++) {
        batch[i]->job.status = jobs[i].status;
        batch[i]->done = true;
        loop_wake_in(batch[i]->loop, &batch[i]->wake);
    }
    free(jobs);
    free(batch);
}

enum store_status login_group_store(struct login_group *g, const struct store_login *in,
                                   struct store_user *out)
{
    struct queued me = {.job = {.in = in, .out = out, .status = STORE_FAILED},
                        .loop = loop_self()};
    /* me is taken off the queue (take_batch) before it is done, so the
     * queue never keeps its address past this call; GCC cannot see that. */
#if defined(__GNUC__) && !defined(__clang__) /* clang has no such warning */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
    pthread_mutex_lock(&g->lock);
    *g->tail = &me;
    g->tail = &me.next;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    while (!me.done) {
        if (g->head && g->n_idle > 0) {
            lead_batch(g);
        } else {
            /* A wake cannot be lost between the unlock and the sleep: it
             * is handled on this thread, after the sleep has yielded. */
            pthread_mutex_unlock(&g->lock);
            loop_sleep(&me.wake, -1);
            pthread_mutex_lock(&g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    loop_forget(&me.wake); /* no one wakes it any more: it is done */
    return me.job.status;
}
