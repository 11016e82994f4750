/* loop.h -- a small event loop: epoll for file descriptors, a list of
 * timers, and a before-sleep hook run once per turn before epoll_wait.
 * Single-threaded; every callback runs on the loop's thread. */
#ifndef RELAY_LOOP_H
#define RELAY_LOOP_H

#include <stdint.h>

#define LOOP_READ 1
#define LOOP_WRITE 2

struct loop;

/* Called when fd is ready; mask holds LOOP_READ and/or LOOP_WRITE (errors
 * and hang-ups are reported as both, so the handler's read or write fails). */
typedef void (*loop_fd_fn)(struct loop *loop, int fd, int mask, void *data);
/* Called when a timer fires; return the next delay in ms, or -1 to delete it. */
typedef long long (*loop_timer_fn)(struct loop *loop, long long id, void *data);
typedef void (*loop_hook_fn)(struct loop *loop, void *data);

/* Create a loop. Returns NULL (logged) when epoll cannot be created. */
struct loop *loop_create(void);

/* Free the loop; fds are not closed, pending timers are dropped. */
void loop_free(struct loop *loop);

/* Watch fd for `mask` (replacing any earlier registration of fd). mask 0
 * keeps fd registered but silent. Returns 0, or -1 (logged). */
int loop_watch(struct loop *loop, int fd, int mask, loop_fd_fn fn, void *data);

/* Change the event mask of a watched fd. Returns 0 or -1 (logged). */
int loop_set_mask(struct loop *loop, int fd, int mask);

/* Stop watching fd (call before closing it). Unknown fds are ignored. */
void loop_unwatch(struct loop *loop, int fd);

/* Add a timer firing after delay_ms; returns its id (> 0). */
long long loop_add_timer(struct loop *loop, long long delay_ms, loop_timer_fn fn, void *data);

/* Delete a timer by id; unknown ids are ignored. Safe inside callbacks. */
void loop_del_timer(struct loop *loop, long long id);

/* Set the hook run before every wait for events. */
void loop_set_before_sleep(struct loop *loop, loop_hook_fn fn, void *data);

/* Run until loop_stop(). Returns 0, or -1 when epoll_wait fails. */
int loop_run(struct loop *loop);

/* Make loop_run return after the current turn. */
void loop_stop(struct loop *loop);

/* Monotonic clock in milliseconds. */
long long loop_now_ms(void);

/* Wall clock in milliseconds since the Unix epoch. */
long long loop_wall_ms(void);

#endif
