/* coro.h -- coroutines: functions with their own stack that the event loop
 * (loop.h) runs by turns on its one thread.
 *
 * login-fcgi's handlers are written as straight-line code that waits: for
 * the request body, for WeChat's answer, for PostgreSQL. Each worker runs
 * them in a coroutine; where the code would block, the coroutine hands the
 * thread back to the loop (coro_yield) and is resumed when what it waits
 * for is ready. One thread serves every worker without a thread switch,
 * lock or wake-up per step (docs/login.md, "One thread, many workers").
 * The technique is QEMU's: ucontext for the switch, a stack with a guard
 * page below it, and the AddressSanitizer told about each switch. */
#ifndef LOGIN_CORO_H
#define LOGIN_CORO_H

#include <stdbool.h>
#include <stddef.h>

struct coro;

typedef void (*coro_fn)(void *arg);

/* A coroutine that will run fn(arg) on a stack of stack_size bytes (a
 * guard page is added below it) when first resumed. NULL when the stack
 * cannot be mapped (logged). */
struct coro *coro_new(coro_fn fn, void *arg, size_t stack_size);

/* Free a coroutine that has finished or never started. NULL is fine. */
void coro_free(struct coro *c);

/* Run c from where it last yielded (or from the start) until it yields or
 * its function returns. Only from outside any coroutine. Returns false once
 * the function has returned. */
bool coro_resume(struct coro *c);

/* From inside a coroutine: give the thread back to whoever resumed it. */
void coro_yield(void);

/* The coroutine running now, NULL outside any. */
struct coro *coro_self(void);

/* A hint for the loop (loop_urgent()): an urgent coroutine is resumed
 * before the others that are ready. */
void coro_set_urgent(struct coro *c, bool urgent);
bool coro_is_urgent(const struct coro *c);

#endif
