/* wsconn.c -- one benchmark WebSocket connection: non-blocking connect,
 * upgrade handshake, frame reading and accounting, masked writes. */
#include "chat.h"

#include "chatscan.h"
#include "httpresp.h"
#include "log.h"
#include "netutil.h"
#include "util.h"
#include "wsframe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* xorshift64: masks and nonces (a test client needs no CSPRNG). */
static uint64_t rng_next(struct chat_run *r)
{
    uint64_t x = r->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return r->rng = x;
}

static void set_out(struct chat_run *r, struct wconn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        log_warn("conn=%d epoll_ctl(MOD): %s", c->idx, strerror(errno));
    c->want_out = on;
}

/* Close the socket, free its buffers, update the counters. */
static void conn_finish(struct chat_run *r, struct wconn *c)
{
    if (c->state == WC_DONE)
        return;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->ready) {
        r->room_ready[c->room]--;
        r->ready--;
    } else if (c->state != WC_NEW) {
        r->in_progress--;
    }
    c->ready = false;
    c->state = WC_DONE;
    r->done++;
    free(c->rbuf);
    free(c->wbuf);
    c->rbuf = c->wbuf = NULL;
}

void wconn_close(struct chat_run *r, struct wconn *c)
{
    conn_finish(r, c);
}

/* A failure before or after open: count it once and close. */
static void conn_fail(struct chat_run *r, struct wconn *c, int *counter, const char *why)
{
    if (c->state == WC_DONE)
        return;
    (*counter)++;
    if (c->ready)
        r->st->closed++;
    log_debug("conn=%d room=%d failed: %s", c->idx, c->room, why);
    conn_finish(r, c);
}

/* Write queued bytes; arms EPOLLOUT while some remain. */
static void conn_flush(struct chat_run *r, struct wconn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(r, c, true);
            return;
        }
        conn_fail(r, c, &r->fail.closed, "send failed");
        return;
    }
    c->woff = c->wlen = 0;
    set_out(r, c, false);
}

/* Room for `need` bytes at the tail of the write buffer? Compacts first. */
static bool conn_wspace(struct wconn *c, size_t need)
{
    if (CHAT_WBUF - c->wlen >= need)
        return true;
    if (c->woff > 0) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    return CHAT_WBUF - c->wlen >= need;
}

/* Queue a masked control or data frame. Returns 0 or -1 (no room). */
static int conn_queue_frame(struct chat_run *r, struct wconn *c, int op, const void *p, size_t n)
{
    uint64_t m = rng_next(r);
    uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
    if (!conn_wspace(c, n + WS_CLIENT_HEADER_MAX))
        return -1;
    size_t fl = ws_frame_encode(c->wbuf + c->wlen, CHAT_WBUF - c->wlen, op, p, n, mask);
    if (fl == 0)
        return -1;
    c->wlen += fl;
    return 0;
}

/* Queue one benchmark message on c without writing it. Returns 0, or -1
 * when the connection cannot take it (counted as send_blocked). */
static int conn_queue_message(struct chat_run *r, struct wconn *c, int64_t t_ns)
{
    struct chat_step *st = r->st;
    char msg[128];
    size_t n = chat_message_format(msg, sizeof msg, t_ns, c->idx, c->k);
    int members = r->room_ready[c->room];
    st->expected += (uint64_t)members;
    if (c->state != WC_OPEN || !c->ready || n == 0 ||
        conn_queue_frame(r, c, WS_OP_TEXT, msg, n) != 0) {
        st->send_blocked++;
        return -1;
    }
    c->k++;
    c->inflight++;
    st->sent++;
    return 0;
}

void wconn_start(struct chat_run *r, struct wconn *c)
{
    c->fd = net_connect_start(&r->o->addr);
    c->state = WC_CONNECTING;
    r->in_progress++;
    if (c->fd < 0) {
        conn_fail(r, c, &r->fail.connect, strerror(errno));
        return;
    }
    c->rbuf = xmalloc((size_t)r->o->rbuf);
    c->wbuf = xmalloc(CHAT_WBUF);
    c->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        conn_fail(r, c, &r->fail.connect, strerror(errno));
}

/* The socket connected: send the upgrade request. */
static void conn_connected(struct chat_run *r, struct wconn *c)
{
    int err = net_connect_result(c->fd);
    if (err) {
        conn_fail(r, c, &r->fail.connect, strerror(err));
        return;
    }
    uint8_t nonce[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t x = rng_next(r);
        memcpy(nonce + i, &x, 8);
    }
    ws_key_make(nonce, c->key);
    int n = snprintf((char *)c->wbuf, CHAT_WBUF,
                     "GET %s?X-WX-Id=%s&X-WX-Skey=%s&room=%s-%d HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     r->o->path, r->sess_id[c->idx], r->sess_skey[c->idx], r->o->room_prefix,
                     c->room, r->o->addr_text, c->key);
    if (n < 0 || n >= CHAT_WBUF) {
        conn_fail(r, c, &r->fail.handshake, "request too long");
        return;
    }
    c->woff = 0;
    c->wlen = (size_t)n;
    c->state = WC_HANDSHAKE;
    conn_flush(r, c);
}

/* Parse the 101 answer; returns bytes consumed, 0 need more, -1 failed. */
static ssize_t conn_handshake(struct chat_run *r, struct wconn *c)
{
    struct http_head h;
    int rc = http_head_parse((const char *)c->rbuf, c->rlen, &h);
    if (rc == 0)
        return 0;
    const char *v;
    size_t vlen;
    char want[WS_ACCEPT_LEN + 1];
    if (rc < 0 || h.status != 101) {
        log_debug("conn=%d upgrade answered %d", c->idx, rc < 0 ? -1 : h.status);
        conn_fail(r, c, &r->fail.handshake, "upgrade refused");
        return -1;
    }
    if (!http_head_find((const char *)c->rbuf, &h, "sec-websocket-accept", &v, &vlen) ||
        ws_accept_for_key(c->key, want) != 0 || vlen != WS_ACCEPT_LEN ||
        memcmp(v, want, WS_ACCEPT_LEN) != 0) {
        conn_fail(r, c, &r->fail.handshake, "bad Sec-WebSocket-Accept");
        return -1;
    }
    c->state = WC_OPEN;
    return (ssize_t)h.head_len;
}

/* The first system frame: the connection is ready and its id window starts. */
static void on_system(struct chat_run *r, struct wconn *c, const struct chat_frame *f)
{
    if (c->ready) {
        r->st->presence++;
        return;
    }
    c->ready = true;
    c->sys_seq = f->seq < 0 ? 0 : f->seq;
    c->last_id = c->sys_seq;
    r->room_ready[c->room]++;
    r->ready++;
    r->in_progress--;
    if (c->last_id > r->room_max[c->room])
        r->room_max[c->room] = c->last_id;
}

/* A live chat frame: check the id sequence, time it, count acks. */
static void on_chat(struct chat_run *r, struct wconn *c, const struct chat_frame *f, int64_t now)
{
    struct chat_step *st = r->st;
    if (!c->ready) {
        st->bad_frames++;
        return;
    }
    if (f->id <= c->last_id) {
        st->dups++;
        return;
    }
    if (f->id > c->last_id + 1)
        st->gaps += (uint64_t)(f->id - c->last_id - 1);
    c->last_id = f->id;
    if (f->id > r->room_max[c->room])
        r->room_max[c->room] = f->id;
    if (f->t_ns >= st->start_ns) {
        st->delivered++;
        hist_record(&st->lat, (now - f->t_ns) / 1000);
    } else {
        st->late++;
    }
    if (!f->own || f->sender != c->idx)
        return;
    if (f->t_ns >= st->start_ns)
        st->acked++;
    if (c->inflight > 0)
        c->inflight--;
    /* Closed loop: the next message goes out with the others this read
     * acknowledged, in one write after the read's last frame. */
    if (r->o->rate <= 0 && c->idx < st->senders && now < st->send_end_ns)
        conn_queue_message(r, c, now);
}

/* An error frame: the relay refused one of this sender's messages. */
static void on_error(struct chat_run *r, struct wconn *c, const struct chat_frame *f)
{
    if (strcmp(f->error, "ERR_RATE_LIMITED") == 0)
        r->st->rate_limited++;
    else
        r->st->errors++;
    log_debug("conn=%d relay error %s", c->idx, f->error);
    if (c->inflight > 0)
        c->inflight--;
}

static void on_text(struct chat_run *r, struct wconn *c, const uint8_t *p, size_t n, int64_t now)
{
    struct chat_frame f;
    chat_frame_scan((const char *)p, n, &f);
    switch (f.kind) {
    case FRAME_CHAT:
        on_chat(r, c, &f, now);
        break;
    case FRAME_HISTORY:
        r->st->history++;
        break;
    case FRAME_PRESENCE:
        r->st->presence++;
        break;
    case FRAME_SYSTEM:
        on_system(r, c, &f);
        break;
    case FRAME_ERROR:
        on_error(r, c, &f);
        break;
    case FRAME_INVALID_SESSION:
        conn_fail(r, c, &r->fail.invalid_session, "invalid session");
        break;
    case FRAME_OTHER:
    case FRAME_BAD:
        r->st->bad_frames++;
        break;
    }
}

/* A close frame from the relay: record its code and close. */
static void on_close(struct chat_run *r, struct wconn *c, const struct ws_frame *f)
{
    static const int codes[] = {1000, 1001, 1002, 1007, 1008, 1009, 4008, 4401};
    int code = f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
    size_t i = 0;
    while (i < countof(codes) && codes[i] != code)
        i++;
    if (i < countof(codes))
        r->fail.close_codes[i]++;
    else
        r->fail.close_other++;
    log_debug("conn=%d closed by the relay with %d", c->idx, code);
    conn_fail(r, c, c->ready ? &r->fail.closed : &r->fail.handshake, "close frame");
}

/* Dispatch one frame. */
static void on_frame(struct chat_run *r, struct wconn *c, const struct ws_frame *f, int64_t now)
{
    if (!f->fin || f->opcode == WS_OP_CONT || f->opcode == WS_OP_BINARY) {
        conn_fail(r, c, &r->fail.protocol, "fragmented or binary frame");
    } else if (f->opcode == WS_OP_TEXT) {
        on_text(r, c, f->payload, f->len, now);
    } else if (f->opcode == WS_OP_PING) {
        if (conn_queue_frame(r, c, WS_OP_PONG, f->payload, f->len) == 0)
            conn_flush(r, c);
    } else if (f->opcode == WS_OP_CLOSE) {
        on_close(r, c, f);
    }
}

/* Parse every whole frame in the receive buffer from `off`. */
static void conn_frames(struct chat_run *r, struct wconn *c, size_t off)
{
    int64_t now = now_ns();
    while (c->state == WC_OPEN && off < c->rlen) {
        struct ws_frame f;
        int rc = ws_frame_parse(c->rbuf + off, c->rlen - off, (size_t)r->o->rbuf - 16, &f);
        if (rc == 0)
            break;
        if (rc < 0) {
            conn_fail(r, c, &r->fail.protocol, "frame violates RFC 6455");
            return;
        }
        on_frame(r, c, &f, now);
        off += f.frame_len;
    }
    if (c->state == WC_DONE)
        return;
    if (c->woff < c->wlen)
        conn_flush(r, c);
    if (c->state == WC_DONE)
        return;
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

/* Readable: one recv, then the handshake answer and/or frames. */
static void conn_readable(struct chat_run *r, struct wconn *c)
{
    size_t cap = (size_t)r->o->rbuf;
    if (c->rlen == cap) {
        conn_fail(r, c, &r->fail.protocol, "frame larger than the receive buffer");
        return;
    }
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, cap - c->rlen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_fail(r, c, c->ready ? &r->fail.closed : &r->fail.handshake,
                  n == 0 ? "closed by peer" : strerror(errno));
        return;
    }
    c->rlen += (size_t)n;
    size_t off = 0;
    if (c->state == WC_HANDSHAKE) {
        ssize_t used = conn_handshake(r, c);
        if (used <= 0)
            return;
        off = (size_t)used;
    }
    conn_frames(r, c, off);
}

void wconn_event(struct chat_run *r, struct wconn *c, uint32_t ev)
{
    if (c->state == WC_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_connected(r, c);
        return;
    }
    if (c->state != WC_DONE && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        conn_readable(r, c);
    if (c->state != WC_DONE && (ev & EPOLLOUT))
        conn_flush(r, c);
}

int wconn_send_message(struct chat_run *r, struct wconn *c, int64_t t_ns)
{
    if (conn_queue_message(r, c, t_ns) != 0)
        return -1;
    conn_flush(r, c);
    return 0;
}
