/* coro_tasks.h -- for login-fcgi's unit tests: a few functions run as
 * coroutines (coro.h) on this thread's event loop (loop.h) until all have
 * returned, as the server runs its workers.
 *
 * No cmocka assertion may run inside a coroutine (a failure would longjmp
 * off its stack): the coroutines record what they saw, and the test
 * asserts once run_tasks_on_loop() has returned. Include it after
 * <cmocka.h>. */
#ifndef TEST_CORO_TASKS_H
#define TEST_CORO_TASKS_H

#include "coro.h"
#include "loop.h"

#include <stdbool.h>

#define CORO_TASKS_MAX 16
#define CORO_TASK_STACK (256 * 1024)

/* One coroutine's work, and whether it has finished. */
struct task {
    coro_fn fn;
    void *arg;
    bool finished;
};

static void task_main(void *p)
{
    struct task *t = p;
    t->fn(t->arg);
    t->finished = true;
}

/* Start the n tasks in order (each runs up to its first wait), then turn
 * the loop, at most 10 ms a turn, until all have finished. The test fails
 * after max_turns turns, or, when progress is given, after stall_turns
 * turns in a row in which *progress did not change (a lost wake-up leaves
 * coroutines asleep for good). The loop must exist. */
static void run_tasks_on_loop(struct task *tasks, int n, int max_turns, const int *progress,
                              int stall_turns)
{
    struct coro *coros[CORO_TASKS_MAX];
    assert_true(n <= CORO_TASKS_MAX);
    for (int i = 0; i < n; i++) {
        coros[i] = coro_new(task_main, &tasks[i], CORO_TASK_STACK);
        assert_non_null(coros[i]);
    }
    for (int i = 0; i < n; i++)
        coro_resume(coros[i]);

    int finished = 0, turns = 0, idle_turns = 0;
    for (;;) {
        finished = 0;
        for (int i = 0; i < n; i++)
            finished += tasks[i].finished;
        if (finished == n || turns >= max_turns || (progress && idle_turns >= stall_turns))
            break;
        int before = progress ? *progress : 0;
        assert_int_equal(loop_turn(10), 0);
        turns++;
        idle_turns = progress && *progress == before ? idle_turns + 1 : 0;
    }
    /* An unfinished coroutine's stack may still be known to the loop: free
     * only the finished ones, so that a failure here stays a failure. */
    for (int i = 0; i < n; i++)
        if (tasks[i].finished)
            coro_free(coros[i]);
    if (finished != n)
        fail_msg("%d of %d coroutines finished after %d turns, the last %d idle", finished, n,
                 turns, idle_turns);
}

#endif
