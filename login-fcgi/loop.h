/* loop.h -- login-fcgi's event loop: one epoll set on one thread, the
 * coroutines (coro.h) it runs by turns, and the two ways a coroutine waits:
 * asleep until another wakes it (with a time limit or not), or on file
 * descriptors (libpq's and libcurl's sockets).
 *
 * A turn: wait in epoll_wait (no longer than the nearest time limit, not
 * at all when a coroutine is ready), call the watches of the descriptors
 * that are ready, wake the sleepers whose time is up, then resume the
 * ready coroutines one by one, in the order they became ready, except
 * that an urgent one (loop_urgent()) goes first. While an urgent
 * coroutine waits for a descriptor, the loop also polls epoll between two
 * resumes, so that it is resumed within one coroutine's step rather than
 * after the whole turn. Each thread that calls loop_init() has a loop of
 * its own, and every function here works on the calling thread's loop,
 * except loop_wake_in(): the way to wake a sleeper of another thread. */
#ifndef LOGIN_LOOP_H
#define LOGIN_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct coro;
struct loop;

/* Something watching a descriptor: ready() runs on the loop, outside any
 * coroutine, with the epoll events that occurred. */
struct loop_watch {
    void (*ready)(struct loop_watch *w, uint32_t events);
};

/* A coroutine asleep, until loop_wake() or its time limit. Lives where the
 * sleeping code put it (usually its stack); zero-initialise it. */
struct loop_sleeper {
    struct coro *co;
    long long deadline_ms; /* monotonic; -1: none */
    bool asleep, woken, queued, urgent;
    bool in_inbox; /* guarded by the inbox's lock of its loop */
    struct loop_sleeper *next_ready;     /* in the ready queue */
    struct loop_sleeper *next_inbox;     /* woken by another thread, not yet queued */
    struct loop_sleeper *prev_timed, *next_timed; /* among those with a deadline */
};

/* Create this thread's loop. Returns 0, or -1 (logged). */
int loop_init(void);

/* Free it; no descriptor may be watched any more. */
void loop_free(void);

/* This thread's loop (for loop_wake_in()). */
struct loop *loop_self(void);

/* Wake s, asleep in loop l, from any thread: at once when l is this
 * thread's loop, else through l's inbox. l must outlive the call. */
void loop_wake_in(struct loop *l, struct loop_sleeper *s);

/* Before a sleeper of this thread's loop goes away: drop it from the
 * loop's inbox, where another thread may have put it after it was woken
 * otherwise. */
void loop_forget(struct loop_sleeper *s);

/* Watch fd for `events` (EPOLLIN, EPOLLOUT, EPOLLET, ...) with w. Returns 0
 * or -1 (logged). */
int loop_watch_add(int fd, uint32_t events, struct loop_watch *w);

/* Change the events watched on fd. Returns 0 or -1 (logged). */
int loop_watch_modify(int fd, uint32_t events, struct loop_watch *w);

/* Stop watching fd, watched with w (before closing fd). w may be freed
 * once this returns, even from inside a watch's ready(): an event for w
 * that the loop has taken from epoll but not delivered yet is dropped. */
void loop_watch_remove(int fd, struct loop_watch *w);

/* From inside a coroutine: sleep until loop_wake(s) or for timeout_ms
 * (< 0: no limit). Returns true when woken, false when the time ran out. */
bool loop_sleep(struct loop_sleeper *s, int timeout_ms);

/* Wake s if it sleeps (from the loop or from another coroutine); it runs
 * later in this turn or the next. Waking a sleeper twice, or one that is
 * not asleep, does nothing. */
void loop_wake(struct loop_sleeper *s);

/* From inside a coroutine: mark it urgent, or no longer. Others wait on
 * an urgent coroutine (the login group's leader: every queued login waits
 * for its batch), so it should not wait behind them for the thread. */
void loop_urgent(bool urgent);

/* From inside a coroutine: wait until one of the n descriptors is ready
 * for its `events` (POLLIN, POLLOUT), or for timeout_ms (< 0: no limit).
 * Fills each revents (POLLERR and POLLHUP always count); returns how many
 * are ready, 0 when the time ran out, -1 when epoll refused one (logged).
 * n is at most LOOP_WAIT_MAX. No other watch may be on these descriptors. */
#define LOOP_WAIT_MAX 8
int loop_wait(struct pollfd *fds, int n, int timeout_ms);

/* One turn of the loop, waiting at most max_wait_ms for a descriptor
 * (< 0: until something happens). Returns 0, or -1 when epoll_wait failed
 * for another reason than a signal (logged). */
int loop_turn(int max_wait_ms);

/* The loop's clock: CLOCK_MONOTONIC in milliseconds. */
long long loop_now_ms(void);

#endif
