/* conn.c -- client connections: buffers, request order, keep-alive,
 * timeouts and closing. */
#include "conn.h"
#include "delay.h"
#include "http_req.h"
#include "http_resp.h"
#include "log.h"
#include "routes.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_IN_MAX (2 * HTTP_REQ_HEAD_MAX) /* input held at most */
#define CONN_READ_SIZE 4096
#define CONN_OUT_HIGH (256 * 1024) /* no new requests while more is unsent */
#define CONN_IDLE_MS (HTTP_KEEP_ALIVE_S * 1000)
#define CONN_LINGER_MS 2000

enum conn_state {
    CONN_ACTIVE,  /* reading and answering requests */
    CONN_CLOSING, /* sending what is queued, then closing */
    CONN_LINGER,  /* answer sent and write side shut: reading until EOF */
    CONN_CLOSED   /* waiting to be freed */
};

struct conn {
    struct watch watch; /* first: epoll events lead here */
    struct server *srv;
    int fd;
    unsigned long long id;
    char peer[64];
    enum conn_state state;
    struct buf in;                /* received, not yet consumed */
    size_t scanned;               /* bytes of `in` searched for the head's end */
    unsigned long long body_left; /* body bytes of the last request still to drain */
    struct buf out;               /* to send */
    size_t out_off;               /* bytes of `out` already sent */
    struct delayed *pending;      /* the current request's delayed answer */
    bool pending_keep_alive, pending_head_only;
    uint32_t events;     /* registered with epoll */
    long long active_ms; /* last progress, for timeouts */
    struct conn *prev, *next;
};

static void conn_process(struct conn *c);

/* Close c now: unregister, close the descriptor, drop its delayed answer's
 * destination. Freed later by conn_free_closed(). */
static void conn_close(struct conn *c, const char *why)
{
    if (c->state == CONN_CLOSED)
        return;
    log_debug("conn=%llu peer=%s closed: %s", c->id, c->peer, why);
    epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (close(c->fd) < 0)
        log_warn("conn=%llu peer=%s close: %s", c->id, c->peer, strerror(errno));
    c->fd = -1;
    c->state = CONN_CLOSED;
    if (c->pending)
        delay_detach(c->pending);
    c->pending = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = c->srv->closed;
    c->srv->closed = c;
    c->srv->nconns--;
    server_conn_closed(c->srv);
}

/* Register the events c needs now: input while it can hold more (or
 * while lingering), output while something is unsent. */
static void conn_update_events(struct conn *c)
{
    uint32_t ev = 0;
    if ((c->state == CONN_ACTIVE && c->in.len < CONN_IN_MAX) || c->state == CONN_LINGER)
        ev |= EPOLLIN;
    if (c->out_off < c->out.len)
        ev |= EPOLLOUT;
    if (ev != c->events && server_watch(c->srv, c->fd, &c->watch, ev, false) == 0)
        c->events = ev;
}

int conn_open(struct server *srv, int fd, const char *peer)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->watch.kind = WATCH_CONN;
    c->srv = srv;
    c->fd = fd;
    c->id = ++srv->next_conn_id;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->events = EPOLLIN;
    c->active_ms = server_now_ms();
    if (server_watch(srv, fd, &c->watch, c->events, true) < 0) {
        close(fd);
        free(c);
        return -1;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    log_debug("conn=%llu peer=%s open", c->id, c->peer);
    return 0;
}

/* Answer a request that cannot be served with a bare error and close. */
static void conn_fail(struct conn *c, int status, const char *why)
{
    log_debug("conn=%llu peer=%s answering %d: %s", c->id, c->peer, status, why);
    http_resp_error(&c->out, status);
    c->state = CONN_CLOSING;
}

/* Write what is queued; on completion of a closing connection, shut the
 * write side and linger (so the answer is not lost to a reset). */
static void conn_flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->active_ms = server_now_ms();
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            conn_close(c, n < 0 ? strerror(errno) : "send returned 0");
            return;
        }
    }
    if (c->out_off == c->out.len) {
        buf_clear(&c->out);
        c->out_off = 0;
        if (c->state == CONN_CLOSING) {
            shutdown(c->fd, SHUT_WR);
            c->state = CONN_LINGER;
            c->active_ms = server_now_ms();
        }
    }
    conn_update_events(c);
}

/* Queue the answer to the current request; a closing answer ends c's
 * requests. */
static void conn_answer(struct conn *c, const struct answer *a, bool keep_alive, bool head_only)
{
    http_resp_write(&c->out, a, keep_alive, head_only);
    if (!keep_alive)
        c->state = CONN_CLOSING;
}

/* Serve the request whose head is in[0..head_len): route it, queue or
 * delay its answer, and consume the head. */
static void conn_handle(struct conn *c, size_t head_len)
{
    struct http_req req;
    enum http_req_status st = http_req_parse(c->in.p, head_len, &req);
    if (st != HTTP_REQ_OK) {
        conn_fail(c, 400, st == HTTP_REQ_UNSUPPORTED ? "transfer-encoding" : "malformed head");
        return;
    }
    if (req.body_len > CONN_BODY_MAX) {
        conn_fail(c, 413, "body too large");
        return;
    }
    if (req.expect_unknown) {
        conn_fail(c, 417, "unknown expectation");
        return;
    }
    if (req.expect_continue)
        http_resp_continue(&c->out);
    bool head_only = http_req_method_is(&req, "HEAD");
    struct answer a = ANSWER_INIT;
    struct exchange_later *later = NULL;
    long long now = server_now_ms();
    long delay = routes_handle(c->srv->app, &req, now, &a, &later);
    if (delay > 0 && (c->pending = delay_start(c->srv, c, delay, later))) {
        c->pending_keep_alive = req.keep_alive;
        c->pending_head_only = head_only;
    } else {
        if (delay > 0) { /* too many waiting: answer now */
            exchange_finish(c->srv->app, later, now, &a);
            exchange_later_free(later);
        }
        conn_answer(c, &a, req.keep_alive, head_only);
    }
    answer_free(&a);
    c->body_left = req.body_len;
    buf_consume(&c->in, head_len);
}

/* Drop body bytes of the last request from the input. */
static void conn_drain_body(struct conn *c)
{
    size_t n = c->in.len < c->body_left ? c->in.len : (size_t)c->body_left;
    buf_consume(&c->in, n);
    c->body_left -= n;
}

/* Serve the complete requests in the input, in order, as far as the
 * current state allows; then send what was queued. */
static void conn_process(struct conn *c)
{
    while (c->state == CONN_ACTIVE && !c->pending && c->out.len - c->out_off < CONN_OUT_HIGH &&
           c->in.len > 0) {
        if (c->body_left) {
            conn_drain_body(c);
            continue;
        }
        if (c->scanned == 0 &&
            (c->in.p[0] == '\n' || (c->in.len >= 2 && c->in.p[0] == '\r' && c->in.p[1] == '\n'))) {
            buf_consume(&c->in, c->in.p[0] == '\n' ? 1 : 2); /* empty lines before a request */
            continue;
        }
        size_t limit = c->in.len < HTTP_REQ_HEAD_MAX ? c->in.len : HTTP_REQ_HEAD_MAX;
        long end = http_req_head_end(c->in.p, limit, &c->scanned);
        if (end < 0) {
            conn_fail(c, 400, "line break without CR");
            break;
        }
        if (end == 0) {
            if (limit == HTTP_REQ_HEAD_MAX)
                conn_fail(c, 431, "head too large");
            break;
        }
        c->scanned = 0;
        conn_handle(c, (size_t)end);
    }
    if (c->state != CONN_CLOSED)
        conn_flush(c);
}

/* Read what the client sent; EOF ends the connection once its answers are
 * sent (a delayed one is dropped, as Node did). */
static void conn_read(struct conn *c)
{
    size_t room = c->state == CONN_LINGER ? CONN_READ_SIZE : CONN_IN_MAX - c->in.len;
    if (room > CONN_READ_SIZE)
        room = CONN_READ_SIZE;
    if (room == 0) {
        conn_update_events(c);
        return;
    }
    char *dst = buf_reserve(&c->in, room);
    ssize_t n = recv(c->fd, dst, room, 0);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(c, strerror(errno));
        return;
    }
    if (n == 0) {
        if (c->state == CONN_LINGER || c->out_off == c->out.len || c->pending)
            conn_close(c, "closed by the peer");
        else
            c->state = CONN_CLOSING; /* send what is queued first */
        if (c->state != CONN_CLOSED)
            conn_flush(c);
        return;
    }
    c->active_ms = server_now_ms();
    if (c->state == CONN_LINGER)
        return; /* discarded */
    c->in.len += (size_t)n;
    c->in.p[c->in.len] = '\0';
    conn_process(c);
}

void conn_on_events(struct watch *w, uint32_t events)
{
    struct conn *c = container_of(w, struct conn, watch);
    if (c->state == CONN_CLOSED)
        return;
    if (events & (EPOLLERR | EPOLLHUP)) { /* reset, or both directions closed */
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        conn_close(c, err ? strerror(err) : "hang-up");
        return;
    }
    if (events & EPOLLIN)
        conn_read(c);
    if (c->state != CONN_CLOSED && (events & EPOLLOUT))
        conn_process(c); /* sends, then serves requests held back by unsent output */
}

void conn_deliver(struct conn *c, const struct answer *a)
{
    c->pending = NULL;
    c->active_ms = server_now_ms();
    conn_answer(c, a, c->pending_keep_alive, c->pending_head_only);
    conn_process(c);
}

void conn_check_timeouts(struct server *srv, long long now_ms)
{
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        bool idle = c->state == CONN_ACTIVE && c->in.len == 0 && c->body_left == 0 &&
                    c->out_off == c->out.len;
        long long limit = c->state == CONN_LINGER ? CONN_LINGER_MS
                          : idle                  ? CONN_IDLE_MS
                                                  : CONN_BUSY_MS;
        if (!c->pending && now_ms - c->active_ms > limit)
            conn_close(c, c->state == CONN_LINGER ? "linger time over"
                          : idle                  ? "idle timeout"
                                                  : "too slow");
    }
}

void conn_free_closed(struct server *srv)
{
    while (srv->closed) {
        struct conn *c = srv->closed;
        srv->closed = c->next;
        buf_free(&c->in);
        buf_free(&c->out);
        free(c);
    }
}

void conn_close_all(struct server *srv)
{
    while (srv->conns)
        conn_close(srv->conns, "shutting down");
    conn_free_closed(srv);
}
