/* test_login_group.c -- login-fcgi/login_group.c with real threads and a
 * fake batch runner: every login comes back with its own result, a batch
 * never holds one openid twice, no more batches run at once than the group
 * has stores and never two on one store, concurrent logins share batches,
 * and a failed login fails alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "login_group.h"

#define THREADS 16
#define LOGINS_PER_THREAD 40
#define USERS 5 /* few openids, so that threads log the same user in at once */
#define MAX_STORES 4

/* Stand-ins for the group's stores: only their addresses are used. */
static char store_slots[MAX_STORES];
static atomic_bool store_busy[MAX_STORES];

/* What the fake runner saw. */
static atomic_int running, most_running, batches, logins_run, largest_batch;
static atomic_bool duplicate_in_batch, store_shared, store_unknown;

static void reset_counters(void)
{
    atomic_store(&running, 0);
    atomic_store(&most_running, 0);
    atomic_store(&batches, 0);
    atomic_store(&logins_run, 0);
    atomic_store(&largest_batch, 0);
    atomic_store(&duplicate_in_batch, false);
    atomic_store(&store_shared, false);
    atomic_store(&store_unknown, false);
}

/* A group of max_batch logins per batch over n_stores stand-in stores. */
static struct login_group *new_group(size_t max_batch, size_t n_stores,
                                     size_t (*run)(struct store *, struct store_login_job *, size_t))
{
    struct store *stores[MAX_STORES];
    for (size_t i = 0; i < n_stores; i++)
        stores[i] = (struct store *)&store_slots[i];
    return login_group_new(max_batch, stores, n_stores, run);
}

/* Mark the stand-in store st busy (or idle again); flags a store used by
 * two batches at once, or one that is not the group's. */
static void use_store(struct store *st, bool busy)
{
    ptrdiff_t i = (char *)st - store_slots;
    if (i < 0 || i >= MAX_STORES) {
        atomic_store(&store_unknown, true);
        return;
    }
    if (atomic_exchange(&store_busy[i], busy) == busy)
        atomic_store(&store_shared, true);
}

static void raise_to(atomic_int *max, int v)
{
    int seen = atomic_load(max);
    while (v > seen && !atomic_compare_exchange_weak(max, &seen, v))
        ;
}

/* Stores a batch: uid = the number after "user-", STORE_FAILED for an
 * openid starting with "bad". Takes about a millisecond, so that logins
 * queue up behind it. */
static size_t fake_run(struct store *st, struct store_login_job *jobs, size_t n)
{
    use_store(st, true);
    raise_to(&most_running, atomic_fetch_add(&running, 1) + 1);
    atomic_fetch_add(&batches, 1);
    atomic_fetch_add(&logins_run, (int)n);
    raise_to(&largest_batch, (int)n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(jobs[i].in->openid, jobs[j].in->openid) == 0)
                atomic_store(&duplicate_in_batch, true);
    nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
    size_t stored = 0;
    for (size_t i = 0; i < n; i++) {
        const char *openid = jobs[i].in->openid;
        if (strncmp(openid, "bad", 3) == 0) {
            jobs[i].status = STORE_FAILED;
            continue;
        }
        jobs[i].out->uid = strtoll(openid + strlen("user-"), NULL, 10);
        snprintf(jobs[i].out->profile.nick, sizeof(jobs[i].out->profile.nick), "%s",
                 jobs[i].in->session_id);
        jobs[i].status = STORE_OK;
        stored++;
    }
    atomic_fetch_sub(&running, 1);
    use_store(st, false);
    return stored;
}

struct worker_arg {
    struct login_group *g;
    int id;
    int wrong; /* logins whose result was not their own */
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    for (int k = 0; k < LOGINS_PER_THREAD; k++) {
        char openid[32], sid[33];
        bool bad = (a->id * LOGINS_PER_THREAD + k) % 17 == 0;
        int user = (a->id + k) % USERS;
        snprintf(openid, sizeof(openid), bad ? "bad-%d" : "user-%d", user);
        snprintf(sid, sizeof(sid), "s%d-%d", a->id, k);
        struct store_login in = {.openid = openid, .session_id = sid};
        struct store_user out;
        memset(&out, 0, sizeof(out));
        enum store_status st = login_group_store(a->g, &in, &out);
        if (bad)
            a->wrong += st != STORE_FAILED;
        else
            a->wrong += st != STORE_OK || out.uid != user || strcmp(out.profile.nick, sid) != 0;
    }
    return NULL;
}

/* THREADS workers log in at once through a group of the given limits. */
static void run_workers(size_t max_batch, size_t n_stores)
{
    reset_counters();
    struct login_group *g = new_group(max_batch, n_stores, fake_run);
    pthread_t threads[THREADS];
    struct worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){.g = g, .id = i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(args[i].wrong, 0);
    }
    login_group_free(g);
    assert_int_equal(atomic_load(&logins_run), THREADS * LOGINS_PER_THREAD);
    assert_false(atomic_load(&duplicate_in_batch));
    assert_true(atomic_load(&most_running) <= (int)n_stores);
    assert_false(atomic_load(&store_shared));
    assert_false(atomic_load(&store_unknown));
    assert_true(atomic_load(&largest_batch) <= (int)max_batch);
}

static void test_one_leader_batches_and_answers_each(void **state)
{
    (void)state;
    run_workers(32, 1);
    /* 16 threads behind a 1 ms batch: logins must have shared batches */
    assert_true(atomic_load(&batches) < THREADS * LOGINS_PER_THREAD / 2);
    assert_true(atomic_load(&largest_batch) > 1);
}

static void test_two_stores_two_batches_at_most(void **state)
{
    (void)state;
    run_workers(32, 2);
    assert_true(atomic_load(&batches) < THREADS * LOGINS_PER_THREAD / 2);
}

static void test_four_stores_each_batch_its_own(void **state)
{
    (void)state;
    run_workers(8, MAX_STORES);
}

static void test_small_batches_respect_the_limit(void **state)
{
    (void)state;
    run_workers(3, 1);
}

static void test_alone_a_login_is_its_own_batch(void **state)
{
    (void)state;
    reset_counters();
    struct login_group *g = new_group(32, 1, fake_run);
    struct store_login in = {.openid = "user-7", .session_id = "only"};
    struct store_user out;
    memset(&out, 0, sizeof(out));
    assert_int_equal(login_group_store(g, &in, &out), STORE_OK);
    assert_int_equal(out.uid, 7);
    assert_string_equal(out.profile.nick, "only");
    struct store_login bad = {.openid = "bad-1", .session_id = "x"};
    assert_int_equal(login_group_store(g, &bad, &out), STORE_FAILED);
    assert_int_equal(atomic_load(&batches), 2);
    login_group_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_leader_batches_and_answers_each),
        cmocka_unit_test(test_two_stores_two_batches_at_most),
        cmocka_unit_test(test_four_stores_each_batch_its_own),
        cmocka_unit_test(test_small_batches_respect_the_limit),
        cmocka_unit_test(test_alone_a_login_is_its_own_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
