/* loop_server.h -- one event loop's share of the FastCGI server: the
 * connections from nginx that this loop accepted, and its worker
 * coroutines serving them. server.c runs one per thread. */
#ifndef LOGIN_LOOP_SERVER_H
#define LOGIN_LOOP_SERVER_H

#include <stddef.h>

struct login_group;
struct settings;

/* The workers of one loop: n coroutines with ids first_id.. (in log
 * lines "w<id>"), each with its own database store and WeChat client.
 * Created on any thread, run on the loop's. NULL when one cannot be
 * created (logged). */
struct loop_workers *loop_workers_new(const struct settings *cfg, struct login_group *logins,
                                      int first_id, int n);

/* Free them, after loop_server_run() returned (or if it never ran). NULL
 * is fine. */
void loop_workers_free(struct loop_workers *ws);

/* Run a loop on this thread with workers ws: accept from listen_fd (shared
 * with the other loops) up to max_conns connections, serve them, until
 * the eventfd stop_fd is written; then stop accepting, close idle
 * connections, finish the requests in flight and return 0, or -1 when the
 * loop failed (logged). The caller closes the descriptors. */
int loop_server_run(struct loop_workers *ws, int listen_fd, int stop_fd, size_t max_conns);

#endif
