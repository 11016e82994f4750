/* test_login_group.c -- login-fcgi/login_group.c with coroutines on the
 * event loop (coro.h, loop.h), as the server runs it, and a fake batch
 * runner that sleeps on the loop like a database call: every login comes
 * back with its own result, a batch never holds one openid twice, no more
 * batches run at once than the group has stores and never two on one
 * store, concurrent logins share batches, with max_batch 1 every batch has
 * one login, and a failed login fails alone.
 *
 * Everything runs on this one thread, so the counters need no atomics. No
 * cmocka assertion runs inside a coroutine (a failure would longjmp off its
 * stack): the coroutines record, the test asserts once they have finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro_tasks.h"
#include "login_group.h"

#define COROUTINES 16
#define LOGINS_PER_COROUTINE 40
#define USERS 5 /* few openids, so that coroutines log the same user in at once */
#define MAX_STORES 4
/* A bug that loses a wake-up leaves coroutines asleep for good, each turn
 * then waiting 10 ms for nothing: give up after STALL_TURNS turns in which
 * no batch started or ended, or MAX_TURNS in all (a run takes < 700). */
#define STALL_TURNS 100
#define MAX_TURNS 10000

/* Stand-ins for the group's stores: only their addresses are used. */
static char store_slots[MAX_STORES];
static bool store_busy[MAX_STORES];

/* What the fake runner saw; steps counts batches started and ended. */
static int steps, running, most_running, batches, logins_run, largest_batch, mixed_batches;
static bool duplicate_in_batch, store_shared, store_unknown;

static void reset_counters(void)
{
    memset(store_busy, 0, sizeof(store_busy));
    steps = running = most_running = batches = logins_run = largest_batch = mixed_batches = 0;
    duplicate_in_batch = store_shared = store_unknown = false;
}

/* A group of max_batch logins per batch over n_stores stand-in stores. */
static struct login_group *new_group(size_t max_batch, size_t n_stores, login_group_run_fn run)
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
        store_unknown = true;
        return;
    }
    if (store_busy[i] == busy)
        store_shared = true;
    store_busy[i] = busy;
}

static void raise_to(int *max, int v)
{
    if (v > *max)
        *max = v;
}

static bool is_bad(const char *openid)
{
    return strncmp(openid, "bad", 3) == 0;
}

/* Stores a batch: uid = the number after "user-", STORE_FAILED for an
 * openid starting with "bad". Sleeps a millisecond on the loop, as a real
 * batch waits for PostgreSQL, so that the other coroutines run meanwhile
 * and their logins queue up behind it. */
static size_t fake_run(struct store *st, struct store_login_job *jobs, size_t n)
{
    steps++;
    use_store(st, true);
    raise_to(&most_running, ++running);
    batches++;
    logins_run += (int)n;
    raise_to(&largest_batch, (int)n);
    size_t n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        n_bad += is_bad(jobs[i].in->openid);
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(jobs[i].in->openid, jobs[j].in->openid) == 0)
                duplicate_in_batch = true;
    }
    if (n_bad > 0 && n_bad < n)
        mixed_batches++;

    struct loop_sleeper s = {0};
    loop_sleep(&s, 1);

    size_t stored = 0;
    for (size_t i = 0; i < n; i++) {
        const char *openid = jobs[i].in->openid;
        if (is_bad(openid)) {
            jobs[i].status = STORE_FAILED;
            continue;
        }
        jobs[i].out->uid = strtoll(openid + strlen("user-"), NULL, 10);
        snprintf(jobs[i].out->profile.nick, sizeof(jobs[i].out->profile.nick), "%s",
                 jobs[i].in->session_id);
        jobs[i].status = STORE_OK;
        stored++;
    }
    running--;
    use_store(st, false);
    steps++;
    return stored;
}

/* Run the n tasks as coroutines on a fresh loop until all have finished
 * (or the bound is reached: then the test fails). */
static void run_tasks(struct task *tasks, int n)
{
    assert_int_equal(loop_init(), 0);
    run_tasks_on_loop(tasks, n, MAX_TURNS, &steps, STALL_TURNS);
    loop_free();
}

struct worker_arg {
    struct login_group *g;
    int id;
    int wrong; /* logins whose result was not their own */
};

static void worker(void *p)
{
    struct worker_arg *a = p;
    for (int k = 0; k < LOGINS_PER_COROUTINE; k++) {
        char openid[32], sid[33];
        bool bad = (a->id * LOGINS_PER_COROUTINE + k) % 17 == 0;
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
}

/* COROUTINES workers log in at once through a group of the given limits. */
static void run_workers(size_t max_batch, size_t n_stores)
{
    reset_counters();
    struct login_group *g = new_group(max_batch, n_stores, fake_run);
    struct worker_arg args[COROUTINES];
    struct task tasks[COROUTINES];
    for (int i = 0; i < COROUTINES; i++) {
        args[i] = (struct worker_arg){.g = g, .id = i};
        tasks[i] = (struct task){.fn = worker, .arg = &args[i]};
    }
    run_tasks(tasks, COROUTINES);
    for (int i = 0; i < COROUTINES; i++)
        assert_int_equal(args[i].wrong, 0);
    login_group_free(g);
    assert_int_equal(logins_run, COROUTINES * LOGINS_PER_COROUTINE);
    assert_false(duplicate_in_batch);
    assert_true(most_running <= (int)n_stores);
    assert_int_equal(running, 0);
    assert_false(store_shared);
    assert_false(store_unknown);
    assert_true(largest_batch <= (int)max_batch);
}

static void test_one_leader_batches_and_answers_each(void **state)
{
    (void)state;
    run_workers(32, 1);
    /* 16 coroutines behind a 1 ms batch: logins must have shared batches */
    assert_true(batches < COROUTINES * LOGINS_PER_COROUTINE / 2);
    assert_true(largest_batch > 1);
    /* and failed logins shared them with good ones, which still succeeded */
    assert_true(mixed_batches > 0);
}

static void test_two_stores_two_batches_at_most(void **state)
{
    (void)state;
    run_workers(32, 2);
    assert_true(batches < COROUTINES * LOGINS_PER_COROUTINE / 2);
    assert_true(most_running == 2); /* the second store was used */
}

static void test_four_stores_each_batch_its_own(void **state)
{
    (void)state;
    run_workers(8, MAX_STORES);
    assert_true(most_running > 1);
}

static void test_small_batches_respect_the_limit(void **state)
{
    (void)state;
    run_workers(3, 1);
    assert_int_equal(largest_batch, 3);
}

static void test_batches_of_one_hold_one_login(void **state)
{
    (void)state;
    run_workers(1, 2);
    assert_int_equal(largest_batch, 1);
    assert_int_equal(batches, COROUTINES * LOGINS_PER_COROUTINE);
}

/* One coroutine alone: a good login, then a bad one. */
struct alone_arg {
    struct login_group *g;
    enum store_status good, bad;
    struct store_user out;
};

static void log_in_alone(void *p)
{
    struct alone_arg *a = p;
    struct store_login in = {.openid = "user-7", .session_id = "only"};
    a->good = login_group_store(a->g, &in, &a->out);
    struct store_login bad = {.openid = "bad-1", .session_id = "x"};
    struct store_user ignored;
    memset(&ignored, 0, sizeof(ignored));
    a->bad = login_group_store(a->g, &bad, &ignored);
}

static void test_alone_a_login_is_its_own_batch(void **state)
{
    (void)state;
    reset_counters();
    struct alone_arg a = {.g = new_group(32, 1, fake_run), .good = STORE_FAILED, .bad = STORE_OK};
    struct task task = {.fn = log_in_alone, .arg = &a};
    run_tasks(&task, 1);
    assert_int_equal(a.good, STORE_OK);
    assert_int_equal(a.out.uid, 7);
    assert_string_equal(a.out.profile.nick, "only");
    assert_int_equal(a.bad, STORE_FAILED);
    assert_int_equal(batches, 2);
    login_group_free(a.g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_leader_batches_and_answers_each),
        cmocka_unit_test(test_two_stores_two_batches_at_most),
        cmocka_unit_test(test_four_stores_each_batch_its_own),
        cmocka_unit_test(test_small_batches_respect_the_limit),
        cmocka_unit_test(test_batches_of_one_hold_one_login),
        cmocka_unit_test(test_alone_a_login_is_its_own_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
