/* client.c -- the bare broadcaster's connections: the upgrade handshake,
 * client frames through wslay, and output buffers written once per flush.
 * See bare.h. */
#include "bare.h"

#include "frame.h"
#include "handshake.h"
#include "http_head.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "query.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Dirty clients: one list per phase group, written at the group's tick,
 * and one (index BARE_GROUPS) written at the end of the loop turn. */
static struct bare_client *dirty[BARE_GROUPS + 1];
static struct bare_client *all_clients[65536]; /* by fd, for client_close_all */
static long long next_uid = 1;
static long long flush_ms = 30;

void client_set_flush_interval(long long ms)
{
    flush_ms = ms;
}

/* A socket written longer than the flush interval ago is written at the
 * end of this turn; otherwise at its group's next tick (as the relay). */
static void mark_dirty(struct bare_client *c)
{
    if (c->dirty)
        return;
    size_t list = BARE_GROUPS;
    if (flush_ms > 0 && loop_now_ms() - c->last_write_ms < flush_ms)
        list = (size_t)c->uid % BARE_GROUPS;
    c->dirty = true;
    c->next_dirty = dirty[list];
    dirty[list] = c;
}

static void client_free(struct bare_client *c)
{
    free(c->out);
    free(c);
}

/* Close c now; its memory goes at the next flush when it is on the list. */
static void client_close(struct loop *loop, struct bare_client *c)
{
    if (c->gone)
        return;
    loop_unwatch(loop, c->fd);
    close(c->fd);
    if ((size_t)c->fd < sizeof(all_clients) / sizeof(all_clients[0]))
        all_clients[c->fd] = NULL;
    room_leave(c);
    if (c->ws)
        wslay_event_context_free(c->ws);
    c->ws = NULL;
    c->gone = true;
    if (!c->dirty)
        client_free(c);
}

void client_queue(struct bare_client *c, const void *p, size_t n)
{
    if (c->gone || c->overflow)
        return;
    if (c->out_off > 0 && c->out_len + n > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len + n > BARE_OUT_MAX) {
        c->overflow = true; /* closed by the flush */
    } else {
        if (c->out_len + n > c->out_cap) {
            c->out_cap = c->out_cap ? c->out_cap : 4096;
            while (c->out_cap < c->out_len + n)
                c->out_cap *= 2;
            c->out = xrealloc(c->out, c->out_cap);
        }
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
    }
    mark_dirty(c);
}

/* Write what c holds; watch for writability while some is left. */
static void write_out(struct loop *loop, struct bare_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            client_close(loop, c);
            return;
        }
        c->out_off += (size_t)n;
        c->last_write_ms = loop_now_ms();
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    bool want = c->out_len > 0;
    if (want != c->want_write && loop_set_mask(loop, c->fd, LOOP_READ | (want ? LOOP_WRITE : 0)) == 0)
        c->want_write = want;
}

/* Write the output of every client on list `list`; free the closed ones. */
static void flush_list(struct loop *loop, size_t list)
{
    struct bare_client *c = dirty[list];
    dirty[list] = NULL;
    while (c) {
        struct bare_client *next = c->next_dirty;
        if (c->overflow && !c->gone) {
            log_warn("fd=%d closing: more than %u bytes unsent", c->fd, BARE_OUT_MAX);
            client_close(loop, c);
        } else if (!c->gone) {
            write_out(loop, c);
        }
        c->dirty = false;
        if (c->gone)
            client_free(c);
        c = next;
    }
}

void client_flush_due(struct loop *loop)
{
    flush_list(loop, BARE_GROUPS);
}

void client_flush_group(struct loop *loop, unsigned group)
{
    flush_list(loop, group % BARE_GROUPS);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    (void)flags;
    struct bare_client *c = user;
    if (c->head_used < c->head_len) { /* bytes that came with the head */
        size_t n = c->head_len - c->head_used < len ? c->head_len - c->head_used : len;
        memcpy(buf, c->head + c->head_used, n);
        c->head_used += n;
        return (ssize_t)n;
    }
    ssize_t n;
    do {
        n = read(c->fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        return n;
    wslay_event_set_error(ctx, n < 0 && errno == EAGAIN ? WSLAY_ERR_WOULDBLOCK
                                                        : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *user)
{
    (void)ctx, (void)flags;
    client_queue(user, data, len); /* wslay's own answers: pong, close */
    return (ssize_t)len;
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)ctx;
    if (arg->opcode == WSLAY_TEXT_FRAME)
        room_broadcast(user, (const char *)arg->msg, arg->msg_length);
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb, .send_callback = ws_send_cb, .on_msg_recv_callback = ws_msg_cb};

/* Answer a complete request head: 101, the room's system frame, and a
 * wslay context for what follows. Returns 0, or -1 to close. */
static int upgrade(struct bare_client *c, size_t head_end)
{
    struct http_request req;
    char accept[HANDSHAKE_ACCEPT_LEN + 1], room[80], answer[256];
    if (http_head_parse(c->head, head_end, &req) != HTTP_HEAD_OK ||
        handshake_classify(&req) != HS_UPGRADE || handshake_accept_key(req.ws_key, accept) < 0 ||
        query_get(req.query, "room", room, sizeof(room)) < 0)
        return -1;
    long long seq = room_join(c, room);
    size_t n = handshake_response_101(accept, answer, sizeof(answer));
    if (seq < 0 || n == 0 || wslay_event_context_server_init(&c->ws, &ws_callbacks, c) != 0)
        return -1;
    wslay_event_config_set_max_recv_msg_length(c->ws, BARE_MSG_MAX);
    client_queue(c, answer, n);
    char *sys = room_system_message(c, seq);
    if (!sys)
        return -1;
    uint8_t hdr[FRAME_HEADER_MAX];
    client_queue(c, hdr, frame_header(hdr, FRAME_OP_TEXT, strlen(sys)));
    client_queue(c, sys, strlen(sys));
    free(sys);
    c->head_used = head_end;
    c->open = true;
    return 0;
}

/* Read the request head; upgrade once it is whole. Returns -1 to close. */
static int read_head(struct bare_client *c)
{
    ssize_t n = read(c->fd, c->head + c->head_len, sizeof(c->head) - c->head_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    size_t from = c->head_len;
    c->head_len += (size_t)n;
    size_t end = http_head_end(c->head, c->head_len, from);
    if (end > 0)
        return upgrade(c, end);
    return c->head_len == sizeof(c->head) ? -1 : 0;
}

static void on_ready(struct loop *loop, int fd, int mask, void *data)
{
    (void)fd;
    struct bare_client *c = data;
    if ((mask & LOOP_WRITE) && c->open)
        write_out(loop, c);
    if (c->gone || !(mask & LOOP_READ))
        return;
    bool was_open = c->open;
    if (!was_open && read_head(c) < 0) {
        client_close(loop, c);
        return;
    }
    if (c->open && (wslay_event_recv(c->ws) != 0 || wslay_event_get_close_received(c->ws)))
        client_close(loop, c);
}

void client_accept_all(struct loop *loop, int lfd)
{
    char peer[64];
    int fd;
    while ((fd = net_accept(lfd, peer, sizeof(peer))) >= 0) {
        if ((size_t)fd >= sizeof(all_clients) / sizeof(all_clients[0])) {
            close(fd);
            continue;
        }
        struct bare_client *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        c->uid = next_uid++;
        if (loop_watch(loop, fd, LOOP_READ, on_ready, c) < 0) {
            close(fd);
            free(c);
            continue;
        }
        all_clients[fd] = c;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        log_warn("accept: %s", strerror(errno));
}

void client_close_all(struct loop *loop)
{
    for (size_t fd = 0; fd < sizeof(all_clients) / sizeof(all_clients[0]); fd++)
        if (all_clients[fd])
            client_close(loop, all_clients[fd]);
    for (size_t list = 0; list <= BARE_GROUPS; list++)
        flush_list(loop, list); /* frees the closed clients still listed */
}
