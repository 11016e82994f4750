/* conn.h -- one client connection: the HTTP upgrade, the WebSocket session
 * (wslay for framing) and its explicit states, output queue, timers and
 * asynchronous freeing. A connection is never freed inside its own
 * callbacks: conn_free_async() marks it and conn_before_sleep() frees it.
 * This header is conn.c's (states, lifecycle, timers); the output side
 * (conn_out.c) is declared in conn_out.h, included at the end. */
#ifndef RELAY_CONN_H
#define RELAY_CONN_H

#include "frame.h"
#include "loop.h"
#include "outq.h"
#include "rate.h"
#include "wsscan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

enum conn_state {
    CONN_HANDSHAKE, /* reading the request head */
    CONN_HTTP_DONE, /* plain HTTP answer queued; close after it is written */
    CONN_AUTH,      /* 101 sent, session lookup running (not reading) */
    CONN_JOINING,   /* session valid, room join running (not reading) */
    CONN_OPEN,      /* in its room, reading messages */
    CONN_CLOSING,   /* close frame queued; waiting for it to be written */
    CONN_LINGER,    /* write side shut down; waiting for EOF */
    CONN_DEAD       /* freed at the next safe point */
};

struct room;

/* A live frame kept for a connection that is still joining. */
struct conn_pending {
    struct conn_pending *next;
    struct frame *frame;
    long long seq;
};

struct conn {
    unsigned long long id;
    int fd;
    enum conn_state state;
    char peer[80];
    /* request head, then bytes received after it */
    char *inbuf;
    size_t inlen, inoff;
    wslay_event_context_ptr ws; /* NULL while idle between frames (lazy) */
    struct wsscan scan;         /* frame boundaries of the client's stream */
    struct outq out;
    bool dirty, write_armed, counted;
    bool peer_gone;    /* EOF or read error seen */
    bool manual_close; /* we wrote the close frame ourselves (wslay failed) */
    bool in_close;     /* receiving a close frame: its payload is checked */
    uint8_t close_buf[125];
    size_t close_len;
    /* identity (after authentication) */
    long long uid;
    char *session_id, *nickname, *avatar_url;
    long long expires_ms;
    unsigned char skey_hash[32];
    bool has_skey;
    char wx_id[256];
    /* room */
    char room_name[65];
    long long since; /* -1: none */
    char epoch[64];
    bool has_epoch;
    struct room *room;
    bool joined; /* counted in the room's online number */
    long long next_seq; /* next message id this connection may receive */
    struct conn_pending *pend_head, *pend_tail;
    size_t pend_bytes;
    struct conn *room_prev, *room_next;
    /* bookkeeping */
    struct rate_bucket rate;
    long long created_ms, last_rx_ms, last_ping_ms, deadline_ms;
    long long last_flush_ms; /* last write attempt of queued bytes */
    bool due;                /* on the flush-due list (waits for the tick) */
    bool flush_soon;         /* written this turn, not at the tick (conn_flush_soon) */
    struct conn *due_prev, *due_next;
    size_t read_budget;
    struct conn *prev, *next, *dirty_next, *hash_next;
};

/* Module setup and teardown (the latter frees every connection). */
void conn_module_init(struct loop *loop);
void conn_module_free(void);

/* Take a freshly accepted socket. Returns the connection or NULL (socket
 * closed) when it cannot be watched. */
struct conn *conn_create(int fd, const char *peer);

/* The live connection with this id, or NULL. */
struct conn *conn_find(unsigned long long id);

/* Queue a close frame with code and reason and stop taking messages. */
void conn_close(struct conn *c, int code, const char *reason);

/* Mark the connection to be freed at the next safe point. */
void conn_free_async(struct conn *c);

/* Called by the room when a joining connection becomes open. */
void conn_opened(struct conn *c);

/* Timers: handshake and idle timeouts, pings, close deadlines. */
void conn_sweep(long long now_ms);

/* Close every connection with 1001 (shutdown); true when none is left. */
void conn_close_all(void);
bool conn_none_left(void);

/* Drop the live frames held for c while it was joining (room.c, conn.c). */
void conn_pending_clear(struct conn *c);

/* Close with 4401 (reason as the message) every connection of the session. */
void conn_revoke_session(const char *session_id, const char *reason);

/* Ask the database which sessions of the open connections ended, and close
 * those (after the LISTEN connection was down: revocations it missed). */
void conn_recheck_sessions(void);

/* Connections counted against RELAY_MAX_CONNECTIONS. */
long long conn_count(void);

/* Called with a complete request head; decides the answer (server.c). */
void conn_handle_request(struct conn *c, size_t head_len);

/* Switch to WebSocket after the 101 answer; returns 0 or -1 (closed). */
int conn_start_websocket(struct conn *c);

/* --- within the connection module (conn_out.c, conn_ws.c) ------------------- */

/* How long a closing connection (close frame or HTTP answer queued) may
 * take before it is freed. */
#define CONN_CLOSE_TIMEOUT_MS 5000

/* Set the poll mask from c's state: read unless it is paused (CONN_AUTH,
 * CONN_JOINING), write while a write is armed and output is queued. No-op
 * for a dead connection. */
void conn_update_mask(struct conn *c);

/* Free c now: leave its room, uncount, unlink, unwatch and close the
 * socket, free everything it owns. Only at a safe point (never inside c's
 * own callbacks). */
void conn_destroy(struct conn *c);

/* Close after a violation wslay gave up on without a close frame: queue
 * the close frame with `code` ourselves (stream order kept), leave the
 * room, drop pending frames and enter CONN_CLOSING. */
void conn_close_raw(struct conn *c, int code);

#include "conn_out.h"

#endif
