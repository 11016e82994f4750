/* test_loop.c -- relay/loop.c, the relay's event loop: a readable
 * descriptor reaches its handler with its data, a hang-up is reported as
 * readable, a silent (mask 0) descriptor is not reported until its mask is
 * set, a handler that unwatches another descriptor keeps that one's event
 * of the same turn from being delivered, timers fire once or repeat by
 * their return value, a timer deleted by another's callback does not fire,
 * a timer added by a callback waits for the next turn, and the
 * before-sleep hook runs once per turn and can stop the loop.
 *
 * Every loop_run() here has a guard timer that stops it after GUARD_MS,
 * so a handler that is never called fails its test instead of hanging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"

#define GUARD_MS 2000

static bool guard_fired;

static long long guard(struct loop *loop, long long id, void *data)
{
    (void)id, (void)data;
    guard_fired = true;
    loop_stop(loop);
    return -1;
}

/* A fresh loop with its guard timer armed. */
static struct loop *new_loop(void)
{
    struct loop *loop = loop_create();
    assert_non_null(loop);
    guard_fired = false;
    loop_add_timer(loop, GUARD_MS, guard, NULL);
    return loop;
}

/* What a descriptor handler saw. */
struct seen {
    int calls, fd, mask;
    void *data;
    ssize_t read_result;
};

/* Records the call, reads what is there (so the level-triggered event
 * ends) and stops the loop. */
static void record_and_stop(struct loop *loop, int fd, int mask, void *data)
{
    struct seen *s = data;
    char buf[16];
    s->calls++;
    s->fd = fd;
    s->mask = mask;
    s->data = data;
    s->read_result = mask & LOOP_READ ? read(fd, buf, sizeof(buf)) : -2;
    loop_stop(loop);
}

static void test_readable_fd_reaches_its_handler(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct seen s = {0};
    assert_int_equal(loop_watch(loop, p[0], LOOP_READ, record_and_stop, &s), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(loop_run(loop), 0);
    assert_false(guard_fired);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.fd, p[0]);
    assert_int_equal(s.mask, LOOP_READ);
    assert_ptr_equal(s.data, &s);
    assert_int_equal(s.read_result, 1);
    loop_unwatch(loop, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(loop);
}

static void test_hangup_is_reported_as_readable(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    struct seen s = {0};
    assert_int_equal(loop_watch(loop, p[0], LOOP_READ, record_and_stop, &s), 0);
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(s.calls, 1);
    assert_true(s.mask & LOOP_READ);
    assert_int_equal(s.read_result, 0); /* end of file: the handler sees the close */
    loop_unwatch(loop, p[0]);
    close(p[0]);
    loop_free(loop);
}

/* Counts turns in the before-sleep hook (a 1 ms timer keeps them coming);
 * sets the silent fd's mask on the third turn, so two turns pass with it
 * writable but silent. */
struct silent {
    struct loop *loop;
    int fd, turns, turn_of_call;
};

static void on_writable(struct loop *loop, int fd, int mask, void *data)
{
    struct silent *s = data;
    (void)fd;
    assert_int_equal(mask, LOOP_WRITE);
    s->turn_of_call = s->turns;
    loop_stop(loop);
}

static void count_turns(struct loop *loop, void *data)
{
    struct silent *s = data;
    if (++s->turns == 3)
        assert_int_equal(loop_set_mask(loop, s->fd, LOOP_WRITE), 0);
}

static long long tick(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id, (void)data;
    return 1; /* keeps the turns coming */
}

static void test_silent_fd_is_reported_once_its_mask_is_set(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct silent s = {.loop = loop, .fd = sv[0]};
    assert_int_equal(loop_watch(loop, sv[0], 0, on_writable, &s), 0);
    loop_add_timer(loop, 1, tick, NULL);
    loop_set_before_sleep(loop, count_turns, &s);
    assert_int_equal(loop_run(loop), 0);
    assert_false(guard_fired);
    assert_int_equal(s.turn_of_call, 3);
    loop_unwatch(loop, sv[0]);
    close(sv[0]);
    close(sv[1]);
    loop_free(loop);
}

/* Two readable pipes; whichever handler runs first unwatches the other's
 * descriptor, whose event of the same turn must then not be delivered. */
struct pair {
    int fds[2];
    int calls[2];
};

static void unwatch_the_other(struct loop *loop, int fd, int mask, void *data)
{
    struct pair *p = data;
    (void)mask;
    int me = fd == p->fds[0] ? 0 : 1;
    p->calls[me]++;
    loop_unwatch(loop, p->fds[1 - me]);
    loop_unwatch(loop, fd);
}

static long long stop_soon(struct loop *loop, long long id, void *data)
{
    (void)id, (void)data;
    loop_stop(loop);
    return -1;
}

static void test_unwatched_fd_gets_no_event_of_the_same_turn(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    struct pair p = {.fds = {a[0], b[0]}};
    assert_int_equal(loop_watch(loop, a[0], LOOP_READ, unwatch_the_other, &p), 0);
    assert_int_equal(loop_watch(loop, b[0], LOOP_READ, unwatch_the_other, &p), 0);
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    loop_add_timer(loop, 20, stop_soon, NULL);
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(p.calls[0] + p.calls[1], 1);
    for (int i = 0; i < 2; i++)
        close(a[i]), close(b[i]);
    loop_free(loop);
}

/* Timers: "once" fires once, "thrice" repeats until its third call. */
struct timer_counts {
    int once, thrice;
    long long victim; /* deleted by the first of two due timers to fire */
    int victim_calls, killer_calls;
};

static long long fire_once(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id;
    ((struct timer_counts *)data)->once++;
    return -1;
}

static long long fire_thrice(struct loop *loop, long long id, void *data)
{
    (void)id;
    struct timer_counts *c = data;
    if (++c->thrice < 3)
        return 1;
    loop_stop(loop);
    return -1;
}

static void test_timers_fire_once_or_repeat(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    struct timer_counts c = {0};
    loop_add_timer(loop, 0, fire_once, &c);
    loop_add_timer(loop, 1, fire_thrice, &c);
    assert_int_equal(loop_run(loop), 0);
    assert_false(guard_fired);
    assert_int_equal(c.once, 1);
    assert_int_equal(c.thrice, 3);
    loop_free(loop);
}

static long long delete_victim(struct loop *loop, long long id, void *data)
{
    (void)id;
    struct timer_counts *c = data;
    c->killer_calls++;
    loop_del_timer(loop, c->victim);
    loop_add_timer(loop, 20, stop_soon, NULL);
    return -1;
}

static long long victim(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id;
    ((struct timer_counts *)data)->victim_calls++;
    return -1;
}

static void test_timer_deleted_by_another_does_not_fire(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    struct timer_counts c = {0};
    /* Newer timers come first in the list: the killer runs before the
     * victim, both due in the same turn. */
    c.victim = loop_add_timer(loop, 0, victim, &c);
    loop_add_timer(loop, 0, delete_victim, &c);
    loop_del_timer(loop, 123456); /* an unknown id is ignored */
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(c.killer_calls, 1);
    assert_int_equal(c.victim_calls, 0);
    loop_free(loop);
}

/* A timer callback adds a due timer; it must fire in a later turn. */
struct nested {
    int turn, added_in, fired_in;
};

static long long nested_fired(struct loop *loop, long long id, void *data)
{
    (void)id;
    struct nested *n = data;
    n->fired_in = n->turn;
    loop_stop(loop);
    return -1;
}

static long long add_nested(struct loop *loop, long long id, void *data)
{
    (void)id;
    struct nested *n = data;
    n->added_in = n->turn;
    loop_add_timer(loop, 0, nested_fired, n);
    return -1;
}

static void count_nested_turns(struct loop *loop, void *data)
{
    (void)loop;
    ((struct nested *)data)->turn++;
}

static void test_timer_added_by_a_callback_waits_a_turn(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    struct nested n = {0};
    loop_set_before_sleep(loop, count_nested_turns, &n);
    loop_add_timer(loop, 0, add_nested, &n);
    assert_int_equal(loop_run(loop), 0);
    assert_false(guard_fired);
    assert_true(n.added_in >= 1);
    assert_int_equal(n.fired_in, n.added_in + 1);
    loop_free(loop);
}

static void stop_at_once(struct loop *loop, void *data)
{
    (*(int *)data)++;
    loop_stop(loop);
}

static void test_before_sleep_can_stop_the_loop(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    int calls = 0;
    loop_set_before_sleep(loop, stop_at_once, &calls);
    assert_int_equal(loop_run(loop), 0);
    assert_int_equal(calls, 1);
    assert_false(guard_fired);
    loop_free(loop);
}

static void test_bad_registrations_are_refused(void **state)
{
    (void)state;
    struct loop *loop = new_loop();
    assert_int_equal(loop_watch(loop, 987, LOOP_READ, record_and_stop, NULL), -1); /* not open */
    assert_int_equal(loop_set_mask(loop, 5, LOOP_READ), -1); /* never watched */
    assert_int_equal(loop_set_mask(loop, -1, LOOP_READ), -1);
    loop_unwatch(loop, 5);  /* ignored */
    loop_unwatch(loop, -1); /* ignored */
    loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readable_fd_reaches_its_handler),
        cmocka_unit_test(test_hangup_is_reported_as_readable),
        cmocka_unit_test(test_silent_fd_is_reported_once_its_mask_is_set),
        cmocka_unit_test(test_unwatched_fd_gets_no_event_of_the_same_turn),
        cmocka_unit_test(test_timers_fire_once_or_repeat),
        cmocka_unit_test(test_timer_deleted_by_another_does_not_fire),
        cmocka_unit_test(test_timer_added_by_a_callback_waits_a_turn),
        cmocka_unit_test(test_before_sleep_can_stop_the_loop),
        cmocka_unit_test(test_bad_registrations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
