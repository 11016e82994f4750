/* conn.h -- one client connection: the HTTP upgrade, the WebSocket session
 * (wslay for framing) and its explicit states, output queue, timers and
 * asynchronous freeing. A connection is never freed inside its own
 * callbacks: conn_free_async() marks it and conn_before_sleep() frees it. */
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

/* Queue a text frame with a copy of the JSON text (takes ownership of
 * `json`, a malloc'ed string) in the stream order. */
void conn_send_json(struct conn *c, char *json, size_t len);

/* Queue a shared frame. When the queue would exceed RELAY_QUEUE_MAX the
 * connection is closed with 4008 instead. Returns 0, or -1 when closed. */
int conn_send_frame(struct conn *c, struct frame *f);

/* Send {"type":"error",...} (cid may be NULL). */
void conn_send_error(struct conn *c, const char *code, const char *msg, const char *cid);

/* Send ERR_INVALID_SESSION and close with 4401. */
void conn_reject_session(struct conn *c, const char *msg);

/* Queue a close frame with code and reason and stop taking messages. */
void conn_close(struct conn *c, int code, const char *reason);

/* Mark the connection to be freed at the next safe point. */
void conn_free_async(struct conn *c);

/* Called by the room when a joining connection becomes open. */
void conn_opened(struct conn *c);

/* Write pending output of connections touched this turn, free dead ones.
 * An open connection written less than RELAY_FLUSH_INTERVAL ago is put on
 * the flush-due list instead: one loop timer writes that list at the next
 * interval boundary, so a busy connection gets many frames per writev
 * while a quiet one is still written at once. */
void conn_before_sleep(void);

/* Timers: handshake and idle timeouts, pings, close deadlines. */
void conn_sweep(long long now_ms);

/* Close every connection with 1001 (shutdown); true when none is left. */
void conn_close_all(void);
bool conn_none_left(void);

/* Close with 4401 every connection of a revoked session. */
void conn_revoke_session(const char *session_id);

/* Connections counted against RELAY_MAX_CONNECTIONS. */
long long conn_count(void);

/* Called with a complete request head; decides the answer (server.c). */
void conn_handle_request(struct conn *c, size_t head_len);

/* Switch to WebSocket after the 101 answer; returns 0 or -1 (closed). */
int conn_start_websocket(struct conn *c);

/* Queue raw bytes (an HTTP answer) and close once they are written. */
void conn_send_http(struct conn *c, const char *bytes, size_t len);

#endif
