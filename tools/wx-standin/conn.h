/* conn.h -- one client connection: reading request heads (http_req.h),
 * draining bodies, answering in order (routes.h), keep-alive, and closing.
 *
 * One request is answered at a time; further pipelined requests wait in
 * the input buffer until the answer before them is queued (a delayed
 * exchange holds them back). Limits: a head of HTTP_REQ_HEAD_MAX bytes
 * (431 above), bodies of CONN_BODY_MAX (413), no Transfer-Encoding (400),
 * an idle keep-alive connection kept HTTP_KEEP_ALIVE_S seconds, a started
 * request or an unread answer CONN_BUSY_MS. Protocol errors answer and
 * close. Closed connections are freed after the loop's turn
 * (conn_free_closed), never inside their own callbacks. */
#ifndef STANDIN_CONN_H
#define STANDIN_CONN_H

#include "answer.h"
#include "server.h"

#include <stdint.h>

#define CONN_BODY_MAX (1024 * 1024)
#define CONN_BUSY_MS 60000

/* Take the accepted, non-blocking socket fd from `peer` (for logs) and
 * start reading. Returns 0, or -1 (logged; fd closed). */
int conn_open(struct server *srv, int fd, const char *peer);

/* Handle epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP) of the
 * connection behind w. */
void conn_on_events(struct watch *w, uint32_t events);

/* The delayed answer of c's current request is ready: send it and go on
 * with the requests behind it. */
void conn_deliver(struct conn *c, const struct answer *a);

/* Close connections idle or stuck past their time. */
void conn_check_timeouts(struct server *srv, long long now_ms);

/* Free the connections closed during this turn. */
void conn_free_closed(struct server *srv);

/* Close and free every connection (shutting down). */
void conn_close_all(struct server *srv);

#endif
