/* conn.c -- client connections: I/O, wslay glue, states, timers, freeing. */
#include "conn.h"
#include "chatjson.h"
#include "http_head.h"
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "room.h"
#include "settings.h"
#include "util.h"
#include "utf8.h"
#include "wsscan.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_BUCKETS 16384
#define CONN_READ_BUDGET (256 * 1024)
#define CONN_HEAD_SLACK 4096
#define CONN_CLOSE_TIMEOUT_MS 5000
#define CONN_LINGER_MS 2000
#define CONN_SETUP_TIMEOUT_MS 30000

static struct {
    struct loop *loop;
    struct conn *all;
    struct conn *dirty;
    struct conn *due;    /* open connections waiting for the flush tick */
    long long due_timer; /* the loop timer serving `due`, 0: none */
    unsigned long long next_id;
    long long counted;
    struct conn *buckets[CONN_BUCKETS];
} cs;

static void conn_event(struct loop *loop, int fd, int mask, void *data);
static void conn_destroy(struct conn *c);
static int conn_ws_ensure(struct conn *c);

void conn_module_init(struct loop *loop)
{
    cs.loop = loop;
}

void conn_module_free(void)
{
    while (cs.all)
        conn_destroy(cs.all);
    cs.dirty = NULL;
    if (cs.due_timer)
        loop_del_timer(cs.loop, cs.due_timer);
    cs.due_timer = 0;
}

long long conn_count(void)
{
    return cs.counted;
}

struct conn *conn_find(unsigned long long id)
{
    for (struct conn *c = cs.buckets[id % CONN_BUCKETS]; c; c = c->hash_next)
        if (c->id == id)
            return c->state == CONN_DEAD ? NULL : c;
    return NULL;
}

/* Queue c for the before-sleep pass (flush or free). */
static void conn_touch(struct conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = cs.dirty;
    cs.dirty = c;
}

static void conn_update_mask(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    int mask = 0;
    if (c->state != CONN_AUTH && c->state != CONN_JOINING)
        mask |= LOOP_READ;
    if (c->write_armed && c->out.bytes)
        mask |= LOOP_WRITE;
    loop_set_mask(cs.loop, c->fd, mask);
}

struct conn *conn_create(int fd, const char *peer)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->id = ++cs.next_id;
    c->fd = fd;
    c->state = CONN_HANDSHAKE;
    c->since = -1;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->created_ms = c->last_rx_ms = loop_now_ms();
    if (loop_watch(cs.loop, fd, LOOP_READ, conn_event, c) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    c->next = cs.all;
    if (cs.all)
        cs.all->prev = c;
    cs.all = c;
    c->hash_next = cs.buckets[c->id % CONN_BUCKETS];
    cs.buckets[c->id % CONN_BUCKETS] = c;
    return c;
}

static void conn_unlink(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cs.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    struct conn **pp = &cs.buckets[c->id % CONN_BUCKETS];
    while (*pp && *pp != c)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = c->hash_next;
}

static void conn_pending_clear(struct conn *c)
{
    while (c->pend_head) {
        struct conn_pending *p = c->pend_head;
        c->pend_head = p->next;
        frame_unref(p->frame);
        free(p);
    }
    c->pend_tail = NULL;
    c->pend_bytes = 0;
}

static void conn_uncount(struct conn *c)
{
    if (c->counted) {
        c->counted = false;
        cs.counted--;
        metrics.connections--;
    }
}

/* Take c off the flush-due list (if it is on it). */
static void conn_undue(struct conn *c)
{
    if (!c->due)
        return;
    if (c->due_prev)
        c->due_prev->due_next = c->due_next;
    else
        cs.due = c->due_next;
    if (c->due_next)
        c->due_next->due_prev = c->due_prev;
    c->due = false;
    c->due_prev = c->due_next = NULL;
}

static void conn_destroy(struct conn *c)
{
    conn_undue(c);
    room_leave(c);
    conn_uncount(c);
    conn_unlink(c);
    loop_unwatch(cs.loop, c->fd);
    close(c->fd);
    if (c->ws)
        wslay_event_context_free(c->ws);
    outq_clear(&c->out);
    conn_pending_clear(c);
    free(c->inbuf);
    free(c->session_id);
    free(c->nickname);
    free(c->avatar_url);
    free(c);
}

void conn_free_async(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    room_leave(c);
    conn_uncount(c);
    c->state = CONN_DEAD;
    loop_unwatch(cs.loop, c->fd);
    conn_touch(c);
}

/* Move frames wslay has queued (pong, close, ping) into the output queue. */
static void conn_ws_pump(struct conn *c)
{
    if (c->ws && wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    conn_touch(c);
}

void conn_send_json(struct conn *c, char *json, size_t len)
{
    if (c->state == CONN_DEAD || c->state >= CONN_CLOSING) {
        free(json);
        return;
    }
    struct frame *f = frame_text(json, len);
    free(json);
    outq_append_frame(&c->out, f);
    frame_unref(f);
    metrics.messages_out++;
    conn_touch(c);
}

int conn_send_frame(struct conn *c, struct frame *f)
{
    if (c->state != CONN_OPEN)
        return -1;
    if (c->out.bytes + f->len > (size_t)cfg.queue_max && c->out.bytes) {
        ssize_t w = outq_write(&c->out, c->fd); /* make room if the socket takes it */
        if (w > 0)
            metrics.bytes_out += (unsigned long long)w;
    }
    if (c->out.bytes + f->len > (size_t)cfg.queue_max) {
        log_warn("conn=%llu peer=%s uid=%lld closing: outgoing queue over %lld bytes", c->id,
                 c->peer, c->uid, cfg.queue_max);
        metrics.queue_overflows++;
        outq_trim(&c->out);
        conn_close(c, 4008, "too slow");
        return -1;
    }
    outq_append_frame(&c->out, f);
    metrics.messages_out++;
    conn_touch(c);
    return 0;
}

void conn_send_error(struct conn *c, const char *code, const char *msg, const char *cid)
{
    size_t len;
    char *json = chatjson_error(code, msg, cid, &len);
    conn_send_json(c, json, len);
}

void conn_reject_session(struct conn *c, const char *msg)
{
    size_t len;
    log_info("conn=%llu peer=%s uid=%lld invalid session: %s", c->id, c->peer, c->uid, msg);
    char *json = chatjson_invalid_session(msg, &len);
    conn_send_json(c, json, len);
    conn_close(c, 4401, "invalid session");
}

void conn_close(struct conn *c, int code, const char *reason)
{
    if (c->state == CONN_DEAD || c->state >= CONN_CLOSING)
        return;
    if (c->state == CONN_HANDSHAKE || c->state == CONN_HTTP_DONE || conn_ws_ensure(c) < 0) {
        conn_free_async(c);
        return;
    }
    room_leave(c);
    conn_pending_clear(c);
    int rc = wslay_event_queue_close(c->ws, (uint16_t)code, (const uint8_t *)reason,
                                     reason ? strlen(reason) : 0);
    if (rc != 0) {
        conn_free_async(c);
        return;
    }
    metrics_close(code);
    log_info("conn=%llu peer=%s uid=%lld closing with %d (%s)", c->id, c->peer, c->uid, code,
             reason ? reason : "");
    c->state = CONN_CLOSING;
    c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    conn_ws_pump(c);
    conn_update_mask(c);
}

void conn_send_http(struct conn *c, const char *bytes, size_t len)
{
    outq_append(&c->out, bytes, len);
    c->state = CONN_HTTP_DONE;
    c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    conn_touch(c);
}

/* Close after a violation wslay gave up on without a close frame: write the
 * frame ourselves, keep the stream order. */
static void conn_close_raw(struct conn *c, int code)
{
    uint8_t f[4] = {0x88, 2, (uint8_t)(code >> 8), (uint8_t)code};
    room_leave(c);
    conn_pending_clear(c);
    outq_append(&c->out, f, sizeof(f));
    metrics_close(code);
    log_info("conn=%llu peer=%s uid=%lld closing with %d (protocol violation)", c->id, c->peer,
             c->uid, code);
    c->manual_close = true;
    c->state = CONN_CLOSING;
    c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    conn_touch(c);
    conn_update_mask(c);
}

/* Start the lingering close: no more output, wait for the peer's EOF. */
static void conn_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->deadline_ms = loop_now_ms() + CONN_LINGER_MS;
}

/* Called when the output queue has been written out completely. */
static void conn_after_flush(struct conn *c)
{
    if (c->state == CONN_HTTP_DONE) {
        conn_linger(c);
    } else if (c->state == CONN_CLOSING && c->manual_close) {
        conn_linger(c);
    } else if (c->state == CONN_CLOSING && c->ws && wslay_event_get_close_sent(c->ws)) {
        if (wslay_event_get_close_received(c->ws))
            conn_free_async(c);
        else
            conn_linger(c);
    }
}

static void conn_flush(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    if (c->out.bytes) {
        c->last_flush_ms = loop_now_ms();
        ssize_t w = outq_write(&c->out, c->fd);
        if (w < 0) {
            log_info("conn=%llu peer=%s uid=%lld write: %s", c->id, c->peer, c->uid,
                     strerror(errno));
            conn_free_async(c);
            return;
        }
        metrics.bytes_out += (unsigned long long)w;
    }
    c->write_armed = c->out.bytes > 0;
    if (!c->out.bytes)
        conn_after_flush(c);
    conn_update_mask(c);
}

/* --- reading ---------------------------------------------------------------- */

/* Read and drop input (closing states); free on EOF or error. */
static void conn_discard(struct conn *c)
{
    char buf[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_free_async(c);
        return;
    }
}

/* Paused connections only hear of errors and hang-ups. */
static void conn_peek(struct conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        conn_free_async(c);
}

static void conn_read_head(struct conn *c)
{
    size_t max = (size_t)cfg.handshake_max, cap = max + CONN_HEAD_SLACK;
    if (!c->inbuf)
        c->inbuf = xmalloc(cap);
    size_t before = c->inlen;
    ssize_t n = read(c->fd, c->inbuf + c->inlen, cap - c->inlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free_async(c);
        return;
    }
    c->inlen += (size_t)n;
    metrics.bytes_in += (unsigned long long)n;
    size_t end = http_head_end(c->inbuf, c->inlen, before);
    if ((!end && c->inlen > max) || end > max) {
        static const char too_big[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                      "Content-Type: application/json\r\nContent-Length: 45\r\n"
                                      "Connection: close\r\n\r\n"
                                      "{\"error\":\"request head too large\",\"ok\":false}";
        log_info("conn=%llu peer=%s request head over %zu bytes: 431", c->id, c->peer, max);
        conn_send_http(c, too_big, sizeof(too_big) - 1);
        return;
    }
    if (end)
        conn_handle_request(c, end);
}

/* Free the wslay context of an open connection whose stream is between
 * frames, with nothing unfinished in it: an idle client then costs no
 * wslay memory (about 9 KiB). The next byte from it creates a new one. */
static void conn_ws_release(struct conn *c)
{
    if (c->ws && c->state == CONN_OPEN && wsscan_idle(&c->scan) && c->inoff >= c->inlen &&
        !c->in_close && wslay_event_get_read_enabled(c->ws) &&
        !wslay_event_want_write(c->ws) && !wslay_event_get_close_sent(c->ws) &&
        !wslay_event_get_close_received(c->ws)) {
        wslay_event_context_free(c->ws);
        c->ws = NULL;
    }
}

static void conn_ws_read(struct conn *c)
{
    if (conn_ws_ensure(c) < 0) {
        conn_free_async(c);
        return;
    }
    if (!wslay_event_get_read_enabled(c->ws)) {
        conn_discard(c);
        return;
    }
    c->read_budget = CONN_READ_BUDGET;
    int rc = wslay_event_recv(c->ws);
    if (c->state == CONN_DEAD)
        return;
    if (rc != 0) {
        if (c->peer_gone || c->state != CONN_OPEN)
            conn_free_async(c);
        else
            conn_close_raw(c, 1002);
        return;
    }
    conn_ws_pump(c);
    if (c->state == CONN_OPEN && wslay_event_get_close_received(c->ws)) {
        log_info("conn=%llu peer=%s uid=%lld client closed with %u", c->id, c->peer, c->uid,
                 wslay_event_get_status_code_received(c->ws));
        room_leave(c);
        c->state = CONN_CLOSING;
        c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    } else if (c->state == CONN_OPEN && !wslay_event_get_read_enabled(c->ws)) {
        int code = wslay_event_get_status_code_sent(c->ws);
        metrics_close(code);
        log_info("conn=%llu peer=%s uid=%lld closing with %d (protocol)", c->id, c->peer,
                 c->uid, code);
        room_leave(c);
        c->state = CONN_CLOSING;
        c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    }
    conn_update_mask(c);
    conn_ws_release(c);
}

static void conn_event(struct loop *loop, int fd, int mask, void *data)
{
    (void)loop, (void)fd;
    struct conn *c = data;
    if ((mask & LOOP_WRITE) && c->state != CONN_DEAD)
        conn_flush(c);
    if (!(mask & LOOP_READ) || c->state == CONN_DEAD)
        return;
    switch (c->state) {
    case CONN_HANDSHAKE:
        conn_read_head(c);
        break;
    case CONN_AUTH:
    case CONN_JOINING:
        conn_peek(c);
        break;
    case CONN_OPEN:
    case CONN_CLOSING:
        conn_ws_read(c);
        break;
    default:
        conn_discard(c);
        break;
    }
}

/* --- wslay callbacks ---------------------------------------------------------- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    (void)flags;
    struct conn *c = user;
    if (c->inoff < c->inlen) { /* bytes that came with the request head */
        size_t n = c->inlen - c->inoff < len ? c->inlen - c->inoff : len;
        memcpy(buf, c->inbuf + c->inoff, n);
        c->inoff += n;
        wsscan_feed(&c->scan, buf, n);
        c->last_rx_ms = loop_now_ms();
        return (ssize_t)n;
    }
    if (c->read_budget == 0 || (c->state != CONN_OPEN && c->state != CONN_CLOSING)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > c->read_budget)
        len = c->read_budget;
    ssize_t n;
    do {
        n = read(c->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        wsscan_feed(&c->scan, buf, (size_t)n);
        c->read_budget -= (size_t)n;
        c->last_rx_ms = loop_now_ms();
        metrics.bytes_in += (unsigned long long)n;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    } else {
        c->peer_gone = true;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    }
    return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *user)
{
    (void)ctx, (void)flags;
    struct conn *c = user;
    outq_append(&c->out, data, len);
    return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)ctx;
    struct conn *c = user;
    if (wslay_is_ctrl_frame(arg->opcode) || c->state != CONN_OPEN)
        return;
    inbound_message(c, arg->opcode == WSLAY_TEXT_FRAME, (const char *)arg->msg,
                    arg->msg_length);
}

static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ctx;
    struct conn *c = user;
    c->in_close = arg->opcode == WSLAY_CONNECTION_CLOSE;
    c->close_len = 0;
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    (void)ctx;
    struct conn *c = user;
    if (!c->in_close)
        return;
    size_t n = arg->data_length;
    if (n > sizeof(c->close_buf) - c->close_len)
        n = sizeof(c->close_buf) - c->close_len;
    memcpy(c->close_buf + c->close_len, arg->data, n);
    c->close_len += n;
}

/* RFC 6455 7.4: codes a peer may send. */
static bool close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* A close frame from the client with a bad payload is answered 1002
 * (queued before wslay's own echo, which is then not sent). */
static void ws_frame_end_cb(wslay_event_context_ptr ctx, void *user)
{
    struct conn *c = user;
    if (!c->in_close)
        return;
    c->in_close = false;
    if (c->close_len == 0)
        return;
    unsigned code = c->close_len >= 2 ? (unsigned)(c->close_buf[0] << 8 | c->close_buf[1]) : 0;
    if (c->close_len == 1 || !close_code_valid(code) ||
        !utf8_valid(c->close_buf + 2, c->close_len - 2)) {
        log_info("conn=%llu peer=%s uid=%lld bad close frame from client", c->id, c->peer, c->uid);
        if (wslay_event_queue_close(ctx, 1002, NULL, 0) == 0)
            metrics_close(1002);
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_frame_recv_start_callback = ws_frame_start_cb,
    .on_frame_recv_chunk_callback = ws_frame_chunk_cb,
    .on_frame_recv_end_callback = ws_frame_end_cb,
    .on_msg_recv_callback = ws_msg_cb};

/* Give c a wslay context when it has none (created lazily, see
 * conn_ws_release). Returns 0, or -1 (logged) when wslay cannot. */
static int conn_ws_ensure(struct conn *c)
{
    if (c->ws)
        return 0;
    if (wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0) {
        log_error("conn=%llu peer=%s wslay init failed", c->id, c->peer);
        c->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, (uint64_t)cfg.max_message);
    return 0;
}

int conn_start_websocket(struct conn *c)
{
    c->state = CONN_AUTH;
    c->counted = true;
    cs.counted++;
    metrics.connections++;
    long long now = loop_now_ms();
    c->last_rx_ms = c->last_ping_ms = now;
    c->deadline_ms = now + CONN_SETUP_TIMEOUT_MS;
    rate_init(&c->rate, (double)cfg.rate_burst, now);
    conn_touch(c);
    conn_update_mask(c);
    return 0;
}

void conn_opened(struct conn *c)
{
    c->state = CONN_OPEN;
    c->last_rx_ms = loop_now_ms();
    conn_update_mask(c);
    if (c->inoff < c->inlen) /* frames sent before we were ready */
        conn_ws_read(c);
}

/* --- the loop's hooks ------------------------------------------------------------ */

/* The flush tick: write every connection on the flush-due list. */
static long long conn_due_tick(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id, (void)data;
    cs.due_timer = 0;
    while (cs.due) {
        struct conn *c = cs.due;
        conn_undue(c);
        conn_flush(c);
    }
    return -1;
}

/* Put c on the flush-due list; arm the tick for the next boundary of the
 * interval (on the monotonic clock) when it is not armed yet. */
static void conn_defer(struct conn *c, long long now)
{
    if (c->due)
        return;
    c->due = true;
    c->due_prev = NULL;
    c->due_next = cs.due;
    if (cs.due)
        cs.due->due_prev = c;
    cs.due = c;
    if (!cs.due_timer) {
        long long delay = cfg.flush_interval_ms - now % cfg.flush_interval_ms;
        cs.due_timer = loop_add_timer(cs.loop, delay, conn_due_tick, NULL);
    }
}

/* Write c now, leave it to EPOLLOUT, or defer it to the flush tick. */
static void conn_flush_or_defer(struct conn *c, long long now)
{
    if (c->state != CONN_OPEN || cfg.flush_interval_ms == 0 || !c->out.bytes) {
        conn_flush(c);
    } else if (c->write_armed) {
        /* socket full: EPOLLOUT writes it */
    } else if (now - c->last_flush_ms >= cfg.flush_interval_ms) {
        conn_flush(c);
    } else {
        conn_defer(c, now);
    }
}

void conn_before_sleep(void)
{
    long long now = loop_now_ms();
    for (int round = 0; round < 4 && cs.dirty; round++) {
        struct conn *list = cs.dirty;
        cs.dirty = NULL;
        while (list) {
            struct conn *c = list;
            list = c->dirty_next;
            c->dirty = false;
            if (c->state == CONN_DEAD)
                conn_destroy(c);
            else
                conn_flush_or_defer(c, now);
        }
    }
}

/* An empty ping, written by hand: an idle connection has no wslay context
 * and wslay keeps no state about pings. */
static void conn_ping(struct conn *c, long long now)
{
    static const uint8_t ping[2] = {0x89, 0x00};
    c->last_ping_ms = now;
    outq_append(&c->out, ping, sizeof(ping));
    conn_touch(c);
}

void conn_sweep(long long now)
{
    for (struct conn *c = cs.all; c; c = c->next) {
        switch (c->state) {
        case CONN_HANDSHAKE:
            if (now - c->created_ms > cfg.handshake_timeout_ms) {
                log_info("conn=%llu peer=%s handshake timed out", c->id, c->peer);
                conn_free_async(c);
            }
            break;
        case CONN_AUTH:
        case CONN_JOINING:
            if (now > c->deadline_ms) {
                conn_send_error(c, "ERR_UNAVAILABLE", "database did not answer", NULL);
                conn_close(c, 1011, "database did not answer");
            }
            break;
        case CONN_OPEN:
            if (now - c->last_rx_ms > cfg.idle_timeout_ms)
                conn_close(c, 1001, "idle timeout");
            else if (now - c->last_ping_ms >= cfg.ping_interval_ms)
                conn_ping(c, now);
            break;
        case CONN_CLOSING:
        case CONN_LINGER:
        case CONN_HTTP_DONE:
            if (now > c->deadline_ms)
                conn_free_async(c);
            break;
        default:
            break;
        }
    }
}

void conn_close_all(void)
{
    for (struct conn *c = cs.all; c; c = c->next) {
        if (c->state == CONN_HANDSHAKE)
            conn_free_async(c);
        else if (c->state == CONN_AUTH || c->state == CONN_JOINING || c->state == CONN_OPEN)
            conn_close(c, 1001, "server shutting down");
    }
}

bool conn_none_left(void)
{
    for (struct conn *c = cs.all; c; c = c->next)
        if (c->state != CONN_DEAD)
            return false;
    return true;
}

void conn_revoke_session(const char *session_id)
{
    for (struct conn *c = cs.all; c; c = c->next)
        if (c->session_id && strcmp(c->session_id, session_id) == 0 &&
            c->state >= CONN_AUTH && c->state <= CONN_OPEN)
            conn_reject_session(c, "session revoked");
}
