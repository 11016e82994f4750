/* conn.c -- client connections: the state machine and lifecycle (creating,
 * finding, counting, closing, freeing), the poll mask of each state, and
 * the timers (handshake/idle timeouts, pings, close deadlines). Output and
 * flushing are in conn_out.c, reading and the wslay glue in conn_ws.c. */
#include "conn.h"
#include "conn_ws.h"
#include "log.h"
#include "metrics.h"
#include "room.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONN_BUCKETS 16384
#define CONN_SETUP_TIMEOUT_MS 30000

/* This file's part of the module state (conn_out.c keeps the dirty and
 * flush-due lists). */
static struct {
    struct loop *loop;
    struct conn *all;
    unsigned long long next_id;
    long long counted;
    struct conn *buckets[CONN_BUCKETS];
} cs;

void conn_module_init(struct loop *loop)
{
    cs.loop = loop;
    conn_out_init(loop);
}

void conn_module_free(void)
{
    while (cs.all)
        conn_destroy(cs.all);
    conn_out_free();
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

void conn_update_mask(struct conn *c)
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

void conn_pending_clear(struct conn *c)
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

void conn_destroy(struct conn *c)
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

/* Close after a violation wslay gave up on without a close frame: write the
 * frame ourselves, keep the stream order. */
void conn_close_raw(struct conn *c, int code)
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

void conn_revoke_session(const char *session_id, const char *reason)
{
    for (struct conn *c = cs.all; c; c = c->next)
        if (c->session_id && strcmp(c->session_id, session_id) == 0 &&
            c->state >= CONN_AUTH && c->state <= CONN_OPEN)
            conn_reject_session(c, reason);
}

static void sessions_ended(void *ctx, int status, const char *const *ids, size_t n)
{
    (void)ctx;
    if (status < 0) {
        log_warn("session recheck failed; ended sessions are refused on their next message");
        return;
    }
    for (size_t i = 0; i < n; i++)
        conn_revoke_session(ids[i], "session expired or revoked");
}

void conn_recheck_sessions(void)
{
    size_t n = 0, cap = 0;
    const char **ids = NULL;
    for (struct conn *c = cs.all; c; c = c->next) {
        if (!c->session_id || c->state < CONN_AUTH || c->state > CONN_OPEN)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            ids = xrealloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = c->session_id;
    }
    if (n > 0 && store_sessions_ended(ids, n, sessions_ended, NULL) < 0)
        log_warn("session recheck not sent: database unavailable");
    free(ids);
}
