/* conn_ws.h -- the input side of client connections (conn_ws.c): the poll
 * callback, reading, and the wslay glue. Only for the connection module
 * (conn.c, conn_out.c); other files use conn.h. */
#ifndef RELAY_CONN_WS_H
#define RELAY_CONN_WS_H

#include "conn.h"

/* The loop callback of every connection socket (data: the struct conn):
 * writes queued output on LOOP_WRITE, then reads according to the state
 * (request head, peek while paused, WebSocket frames, discard). */
void conn_event(struct loop *loop, int fd, int mask, void *data);

/* Read WebSocket frames of an open or closing connection (at most
 * CONN_READ_BUDGET bytes this turn), handling complete messages through
 * inbound.c; moves c to CONN_CLOSING on a close or protocol error and
 * releases the wslay context when the stream is idle. */
void conn_ws_read(struct conn *c);

/* Give c a wslay context when it has none (created lazily; released while
 * idle). Returns 0, or -1 (logged) when wslay cannot. */
int conn_ws_ensure(struct conn *c);

/* Move frames wslay has queued (pong, close, ping) into the output queue
 * and touch c. */
void conn_ws_pump(struct conn *c);

#endif
