/* login_group.c -- concurrent logins stored in batches (see login_group.h).
 *
 * One mutex guards the queue and the stack of idle stores. A queued
 * login is owned by the stack frame of the worker waiting for it, which
 * sleeps on its own condition variable: a leader takes logins off the
 * queue, runs them without the lock, marks each done under the lock and
 * wakes exactly their workers, and the worker of the next queued login to
 * lead the next batch. (A broadcast to every waiting worker, tried first,
 * made thread wake-ups the two largest items of login-fcgi's profile.) */
#include "login_group.h"

#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct queued {
    struct store_login_job job;
    bool done;
    pthread_cond_t wake; /* done, or may lead a batch */
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
 * out the results and wake their workers, and the worker of the next
 * queued login so that it leads the next batch. Called and returns with
 * the lock held. */
static void lead_batch(struct login_group *g)
{
    struct queued **batch = xcalloc(g->max_batch, sizeof(*batch));
    size_t n = take_batch(g, batch);
    struct store *st = g->idle[--g->n_idle];
    pthread_mutex_unlock(&g->lock);

    struct store_login_job *jobs = xcalloc(n, sizeof(*jobs));
    for (size_t i = 0; i < n; i++)
        jobs[i] = batch[i]->job;
    g->run(st, jobs, n);

    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < n; i++) {
        batch[i]->job.status = jobs[i].status;
        batch[i]->done = true;
        pthread_cond_signal(&batch[i]->wake);
    }
    g->idle[g->n_idle++] = st;
    if (g->head)
        pthread_cond_signal(&g->head->wake);
    free(jobs);
    free(batch);
}

enum store_status login_group_store(struct login_group *g, const struct store_login *in,
                                   struct store_user *out)
{
    struct queued me = {.job = {.in = in, .out = out, .status = STORE_FAILED}};
    pthread_cond_init(&me.wake, NULL);
    pthread_mutex_lock(&g->lock);
    *g->tail = &me;
    g->tail = &me.next;
    while (!me.done) {
        if (g->head && g->n_idle > 0)
            lead_batch(g);
        else
            pthread_cond_wait(&me.wake, &g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    pthread_cond_destroy(&me.wake);
    return me.job.status;
}
