/* test_loop.c -- login-fcgi/loop.c with coroutines (coro.h): a sleep
 * with a time limit ends no earlier than the limit and returns false, a
 * wake ends it at once and returns true (a second wake does nothing), a
 * wake from another thread reaches a sleeper through the loop's inbox,
 * loop_wait() reports a readable or hung-up descriptor, times out, and
 * leaves no watch behind, an urgent coroutine is resumed before the
 * others that became ready in the same turn, and a watch removed and freed
 * by another watch of the same epoll batch gets none of that batch's
 * events.
 *
 * No cmocka assertion runs inside a coroutine (a failure would longjmp off
 * its stack): the coroutines record, the tests assert once they finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "coro_tasks.h"

#define MAX_TURNS 500 /* each turn waits at most 10 ms: a lost wake fails in 5 s */

/* Start the n tasks in order, then turn the loop until all have finished. */
static void run_tasks(struct task *tasks, int n)
{
    run_tasks_on_loop(tasks, n, MAX_TURNS, NULL, 0);
}

static int setup(void **state)
{
    (void)state;
    return loop_init();
}

static int teardown(void **state)
{
    (void)state;
    loop_free();
    return 0;
}

/* A sleeper and what its sleep returned. */
struct nap {
    struct loop_sleeper s;
    int timeout_ms;
    bool woken;
    int resumed;
    long long slept_ms;
};

static void take_nap(void *p)
{
    struct nap *n = p;
    long long start = loop_now_ms();
    n->woken = loop_sleep(&n->s, n->timeout_ms);
    n->resumed++;
    n->slept_ms = loop_now_ms() - start;
}

static void test_sleep_ends_at_its_time_limit(void **state)
{
    (void)state;
    struct nap n = {.timeout_ms = 30};
    struct task t = {take_nap, &n, false};
    run_tasks(&t, 1);
    assert_false(n.woken);
    assert_int_equal(n.resumed, 1);
    assert_true(n.slept_ms >= 30); /* never early */
}

static void wake_twice(void *p)
{
    struct nap *n = p;
    loop_wake(&n->s);
    loop_wake(&n->s); /* already woken: nothing happens */
}

static void test_wake_ends_a_sleep_once(void **state)
{
    (void)state;
    struct nap n = {.timeout_ms = 5000};
    struct task t[2] = {{take_nap, &n, false}, {wake_twice, &n, false}};
    run_tasks(t, 2);
    assert_true(n.woken);
    assert_int_equal(n.resumed, 1);
    assert_true(n.slept_ms < 5000);
}

/* Another thread wakes the sleeper of this thread's loop. The thread is
 * started by a second coroutine, which runs once the first is asleep. */
struct remote {
    struct loop *loop;
    struct nap *nap;
    pthread_t thread;
    int started; /* pthread_create's result */
};

static void *wake_from_thread(void *p)
{
    struct remote *r = p;
    loop_wake_in(r->loop, &r->nap->s);
    return NULL;
}

static void start_waker(void *p)
{
    struct remote *r = p;
    r->started = pthread_create(&r->thread, NULL, wake_from_thread, r);
}

static void test_wake_from_another_thread(void **state)
{
    (void)state;
    struct nap n = {.timeout_ms = -1};
    struct remote r = {.loop = loop_self(), .nap = &n, .started = -1};
    struct task t[2] = {{take_nap, &n, false}, {start_waker, &r, false}};
    run_tasks(t, 2);
    assert_int_equal(r.started, 0);
    assert_int_equal(pthread_join(r.thread, NULL), 0);
    loop_forget(&n.s);
    assert_true(n.woken);
    assert_int_equal(n.resumed, 1);
}

/* loop_wait() on one descriptor, twice: what each call returned. */
struct fd_waiter {
    int fd;
    int first, second;
    short first_revents;
};

static void wait_twice(void *p)
{
    struct fd_waiter *w = p;
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
    w->first = loop_wait(&pfd, 1, 5000);
    w->first_revents = pfd.revents;
    char buf[8];
    if (w->first == 1 && (pfd.revents & POLLIN))
        (void)!read(w->fd, buf, sizeof(buf));
    /* Again on the same descriptor: the first wait must have removed its
     * watch, or adding it again fails (-1). Nothing to read now: 0. */
    pfd.revents = 0;
    w->second = loop_wait(&pfd, 1, 20);
}

static void write_a_byte(void *p)
{
    (void)!write(*(int *)p, "x", 1);
}

static void test_wait_reports_a_readable_descriptor(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct fd_waiter w = {.fd = p[0]};
    struct task t[2] = {{wait_twice, &w, false}, {write_a_byte, &p[1], false}};
    run_tasks(t, 2);
    assert_int_equal(w.first, 1);
    assert_true(w.first_revents & POLLIN);
    assert_int_equal(w.second, 0);
    close(p[0]);
    close(p[1]);
}

static void test_wait_reports_a_hang_up(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    struct fd_waiter w = {.fd = p[0]};
    struct task t = {wait_twice, &w, false};
    run_tasks(&t, 1);
    assert_int_equal(w.first, 1);
    assert_true(w.first_revents & POLLHUP);
    close(p[0]);
}

/* Three sleepers woken in one step, the second of them urgent: it must be
 * resumed first, the others in the order they were woken. */
struct order {
    struct loop_sleeper s[3];
    int resumed[3], n_resumed;
};

struct sleeper_arg {
    struct order *o;
    int i;
};

static void sleep_and_note(void *p)
{
    struct sleeper_arg *a = p;
    loop_urgent(a->i == 1);
    loop_sleep(&a->o->s[a->i], -1);
    loop_urgent(false);
    a->o->resumed[a->o->n_resumed++] = a->i;
}

static void wake_all_three(void *p)
{
    struct order *o = p;
    for (int i = 0; i < 3; i++)
        loop_wake(&o->s[i]);
}

static void test_urgent_coroutine_is_resumed_first(void **state)
{
    (void)state;
    struct order o;
    memset(&o, 0, sizeof(o));
    struct sleeper_arg args[3] = {{&o, 0}, {&o, 1}, {&o, 2}};
    struct task t[4] = {{sleep_and_note, &args[0], false},
                        {sleep_and_note, &args[1], false},
                        {sleep_and_note, &args[2], false},
                        {wake_all_three, &o, false}};
    run_tasks(t, 4);
    assert_int_equal(o.n_resumed, 3);
    assert_int_equal(o.resumed[0], 1);
    assert_int_equal(o.resumed[1], 0);
    assert_int_equal(o.resumed[2], 2);
}

/* Two readable pipes, each watched by a heap-allocated watch; whichever
 * is delivered first removes and frees the other, whose event of the same
 * batch must then not be delivered (ASan would report its use). */
struct rival {
    struct loop_watch watch;
    int fd;
    struct rival **other;
    int *calls;
};

static void remove_the_other(struct loop_watch *w, uint32_t events)
{
    struct rival *me = (struct rival *)w;
    (void)events;
    (*me->calls)++;
    struct rival *other = *me->other;
    if (other) {
        loop_watch_remove(other->fd, &other->watch);
        free(other);
        *me->other = NULL;
    }
}

static void test_removed_watch_gets_no_event_of_the_batch(void **state)
{
    (void)state;
    int a[2], b[2], calls = 0;
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    struct rival *ra = calloc(1, sizeof(*ra)), *rb = calloc(1, sizeof(*rb));
    assert_non_null(ra);
    assert_non_null(rb);
    /* Each points at the slot that holds the other, so the survivor knows
     * its rival is gone. */
    struct rival *slot_a = ra, *slot_b = rb;
    *ra = (struct rival){{remove_the_other}, a[0], &slot_b, &calls};
    *rb = (struct rival){{remove_the_other}, b[0], &slot_a, &calls};
    assert_int_equal(loop_watch_add(a[0], EPOLLIN, &ra->watch), 0);
    assert_int_equal(loop_watch_add(b[0], EPOLLIN, &rb->watch), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(loop_turn(1000), 0); /* both events in one epoll_wait */
    assert_int_equal(calls, 1);
    struct rival *left = slot_a ? slot_a : slot_b;
    assert_non_null(left);
    loop_watch_remove(left->fd, &left->watch);
    free(left);
    for (int i = 0; i < 2; i++)
        close(a[i]), close(b[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sleep_ends_at_its_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_ends_a_sleep_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_reports_a_readable_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_reports_a_hang_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urgent_coroutine_is_resumed_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_watch_gets_no_event_of_the_batch, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
