/* chat.h -- the WebSocket side of the load generator: N connections in R
 * rooms, S of them sending benchmark messages (open loop at a rate, or closed
 * loop with a window of unacknowledged messages), every delivery checked
 * (room ids exactly once and in order per receiver) and timed.
 *
 * wsconn.c owns one connection's I/O (connect, upgrade, frames); chat.c
 * drives the phases (connect, hold, steps) and the report. */
#ifndef BENCH_CHAT_H
#define BENCH_CHAT_H

#include "hist.h"
#include "proccpu.h"
#include "sysstat.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CHAT_MAX_STEPS 32
#define CHAT_WBUF 8192

struct chat_opts {
    struct sockaddr_in addr; /* relay or nginx */
    const char *addr_text;   /* for the Host header and the report */
    const char *path;        /* "/chat" */
    const char *sessions;    /* file of "id skey" lines */
    const char *room_prefix; /* rooms are PREFIX-0 .. PREFIX-(R-1) */
    const char *label;       /* free text copied into the report */
    int conns, rooms;
    int steps[CHAT_MAX_STEPS]; /* senders per step; none: idle run */
    int nsteps;
    double rate; /* messages/s per sender; 0: closed loop */
    int window;  /* closed loop: unacknowledged messages per sender */
    double step_s, drain_s, hold_s, connect_timeout_s;
    double p99_limit_ms, min_ratio;
    bool all_steps; /* keep stepping after a failed step */
    int connect_concurrency;
    int relay_pid; /* 0: no relay readings */
    int rbuf;      /* receive buffer per connection */
    struct proc_groups cpu; /* programs whose CPU per message is reported */
};

enum wconn_state { WC_NEW, WC_CONNECTING, WC_HANDSHAKE, WC_OPEN, WC_DONE };

struct wconn {
    int fd, idx, room;
    enum wconn_state state;
    bool ready;    /* got the first system frame */
    bool want_out; /* EPOLLOUT armed */
    char key[32];
    uint8_t *rbuf;
    size_t rlen;
    uint8_t *wbuf; /* CHAT_WBUF bytes */
    size_t woff, wlen;
    long long last_id; /* last room id seen (-1 before the system frame) */
    long long sys_seq;
    /* sender state */
    long long k;      /* next message counter */
    long long n_step; /* messages sent in this step */
    int64_t phase_ns;
    int inflight;
};

/* Counters of one measured step (or of the connect/hold phase). */
struct chat_step {
    int senders;
    int64_t start_ns, send_end_ns, end_ns;
    uint64_t sent, expected, delivered, acked, late, history, presence;
    uint64_t gaps, dups, rate_limited, errors, bad_frames, send_blocked, closed;
    uint64_t pending; /* ids some members had and others not yet, at the step's end */
    struct hist lat;
    int64_t cpu0, relay_cpu0, relay_wait0;
    struct machine_ticks m0;
    int64_t io_stall0_us;    /* machine_io_stall_us() at the start */
    struct proc_snap procs0; /* the --cpu programs at the start */
};

/* Why connections failed. */
struct chat_failures {
    int connect, handshake, invalid_session, closed, timeout, protocol;
    int close_codes[8]; /* 1000,1001,1002,1007,1008,1009,4008,4401 */
    int close_other;
};

struct chat_run {
    const struct chat_opts *o;
    int ep;
    struct wconn *c;
    char (*sess_id)[80];
    char (*sess_skey)[80];
    int *room_ready;     /* ready connections per room */
    long long *room_max; /* highest id seen per room */
    int started, in_progress, ready, done;
    struct chat_step *st;    /* the step being measured (never NULL) */
    struct chat_step *setup; /* counters outside any step (connect, hold) */
    uint64_t gaps_total, dups_total;
    struct chat_failures fail;
    uint64_t rng;
};

/* Open connection c (non-blocking); failures are counted and mark it done. */
void wconn_start(struct chat_run *r, struct wconn *c);

/* Handle epoll events `ev` for c. */
void wconn_event(struct chat_run *r, struct wconn *c, uint32_t ev);

/* Queue one benchmark message (content time stamp t_ns) on sender c and
 * try to write it. Returns 0, or -1 when the connection cannot take it
 * (counted as send_blocked). */
int wconn_send_message(struct chat_run *r, struct wconn *c, int64_t t_ns);

/* Close c (if open) and mark it done. */
void wconn_close(struct chat_run *r, struct wconn *c);

/* Run the chat scenario described by o and print one JSON object on stdout.
 * Returns 0 when the run completed (the report says whether targets held),
 * -1 when it could not run at all (bad sessions file, no connection). */
int chat_run_main(const struct chat_opts *o);

#endif
