/* conn_ws.c -- client connections' input: reading the request head,
 * reading or dropping bytes in each state, the poll callback, and the wslay
 * glue (callbacks, the lazily created context, the close-frame check). */
#include "conn.h"
#include "conn_ws.h"
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

#define CONN_READ_BUDGET (256 * 1024)
#define CONN_HEAD_SLACK 4096

/* Move frames wslay has queued (pong, close, ping) into the output queue. */
void conn_ws_pump(struct conn *c)
{
    if (c->ws && wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    conn_touch(c);
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

void conn_ws_read(struct conn *c)
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
    if (c->state == CONN_OPEN && c->scan.left > (uint64_t)cfg.max_message &&
        wslay_event_get_read_enabled(c->ws)) {
        /* a header announced a frame over the limit: wslay refuses it only
         * once its payload starts to arrive, which may be never */
        conn_close(c, 1009, "message too big");
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

void conn_event(struct loop *loop, int fd, int mask, void *data)
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
int conn_ws_ensure(struct conn *c)
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
