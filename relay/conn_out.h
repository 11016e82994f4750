/* conn_out.h -- the output side of client connections (conn_out.c):
 * queueing frames, JSON and HTTP answers, writing them out, and the
 * before-sleep pass with the coalescing flush tick. Included by conn.h. */
#ifndef RELAY_CONN_OUT_H
#define RELAY_CONN_OUT_H

#include "loop.h"

#include <stddef.h>

struct conn;
struct frame;

/* Queue a text frame with a copy of the JSON text (takes ownership of
 * `json`, a malloc'ed string) in the stream order. */
void conn_send_json(struct conn *c, char *json, size_t len);

/* Queue a shared frame. When the queue would exceed RELAY_QUEUE_MAX the
 * connection is closed with 4008 instead. Returns 0, or -1 when closed. */
int conn_send_frame(struct conn *c, struct frame *f);

/* Have c written in this turn's before-sleep pass rather than at its flush
 * tick: its queue holds an answer its client is waiting for (the echo of
 * its own message, which is its acknowledgement). */
void conn_flush_soon(struct conn *c);

/* Send {"type":"error",...} (cid may be NULL). */
void conn_send_error(struct conn *c, const char *code, const char *msg, const char *cid);

/* Send ERR_INVALID_SESSION and close with 4401. */
void conn_reject_session(struct conn *c, const char *msg);

/* Write pending output of connections touched this turn, free dead ones.
 * An open connection written less than RELAY_FLUSH_INTERVAL ago is put on
 * the flush-due list instead: one loop timer writes that list at the next
 * interval boundary, so a busy connection gets many frames per writev
 * while a quiet one is still written at once, and one marked by
 * conn_flush_soon() is written now. */
void conn_before_sleep(void);

/* Queue raw bytes (an HTTP answer) and close once they are written. */
void conn_send_http(struct conn *c, const char *bytes, size_t len);

/* --- within the connection module (conn.c, conn_ws.c) ----------------------- */

/* Setup (keeps the loop for the flush tick) and teardown (forgets the
 * dirty list, cancels the tick); called by conn_module_init/free. */
void conn_out_init(struct loop *loop);
void conn_out_free(void);

/* Queue c for the before-sleep pass (flush, or free when dead). Idempotent
 * within a turn. */
void conn_touch(struct conn *c);

/* Take c off the flush-due list (if it is on it). */
void conn_undue(struct conn *c);

/* Write c's queued output now. On a write error c is freed asynchronously;
 * once the queue is empty, a closing connection moves on (linger or free);
 * a partial write arms EPOLLOUT. No-op for a dead connection. */
void conn_flush(struct conn *c);

#endif
