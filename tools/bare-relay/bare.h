/* bare.h -- the bare broadcaster (tools/bare-relay/), a yardstick for
 * scenario (a) of `make bench`: the least a WebSocket broadcaster can do
 * for the load generator's chat protocol. No sessions, no storage, no
 * rate limits: a message is numbered per room, encoded once (one frame for
 * its sender, one for everyone else) and its bytes appended to each
 * member's output buffer. Sockets are written as the relay writes them: at
 * once when idle for a flush interval, else at their phase group's tick.
 * What it costs the machine is the ceiling any relay reaches on it
 * (docs/bench.md, "The bare broadcaster"). */
#ifndef BARE_H
#define BARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

#define BARE_HEAD_MAX 8192            /* request head, as the relay's default */
#define BARE_OUT_MAX (16u << 20)      /* output a slow client may hold */
#define BARE_MSG_MAX 65536            /* largest message read from a client */
#define BARE_GROUPS 16                /* phase groups of the flush, as the relay's */

struct bare_room;

struct bare_client {
    int fd;
    long long uid;                    /* a number for the frames' "uid" */
    bool open;                        /* handshake done, WebSocket spoken */
    bool gone;                        /* closed: freed after the flush */
    bool overflow;                    /* over BARE_OUT_MAX: closed by the flush */
    bool want_write;                  /* the loop watches for writability */
    struct bare_room *room;
    size_t slot;                      /* index in room's member array */
    wslay_event_context_ptr ws;       /* client frames in (NULL before open) */
    char head[BARE_HEAD_MAX];
    size_t head_len;
    size_t head_used;                 /* head bytes consumed (the rest: frames) */
    uint8_t *out;                     /* bytes not yet written: out[off..len) */
    size_t out_off, out_len, out_cap;
    long long last_write_ms;          /* when output was last written */
    struct bare_client *next_dirty;   /* on a dirty list when dirty */
    bool dirty;
};

/* client.c */
struct loop;
/* Accept every pending connection of listening socket lfd. */
void client_accept_all(struct loop *loop, int lfd);
/* Append n bytes to c's output; c goes on the dirty list. A client that
 * would hold more than BARE_OUT_MAX is closed by the next flush. */
void client_queue(struct bare_client *c, const void *p, size_t n);
/* How often a busy socket is written (ms; 0: at the end of every turn). */
void client_set_flush_interval(long long ms);
/* Write the clients that were due at once (end of a loop turn). */
void client_flush_due(struct loop *loop);
/* Write the dirty clients of phase group `group` (its tick). */
void client_flush_group(struct loop *loop, unsigned group);
/* Close every client (at exit). */
void client_close_all(struct loop *loop);

/* room.c */
/* Add c to the room named `name` (created on first use); returns the
 * room's last number, or -1 when the name is too long. */
long long room_join(struct bare_client *c, const char *name);
/* Take c out of its room (no-op when in none). */
void room_leave(struct bare_client *c);
/* Number a text message of `from` and queue it to every member. A payload
 * that is not a JSON object with a string "content" is ignored. */
void room_broadcast(struct bare_client *from, const char *payload, size_t len);
/* The system frame a client gets when it joins (a JSON text, to free). */
char *room_system_message(const struct bare_client *c, long long seq);
/* Free every room. */
void room_free_all(void);

#endif
