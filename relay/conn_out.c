/* conn_out.c -- client connections' output: queueing frames, JSON and
 * HTTP answers, writing the queue to the socket, what follows a complete
 * write (lingering close), and the before-sleep pass with its coalescing
 * flush-due lists and ticks (RELAY_FLUSH_INTERVAL). */
#include "chatjson.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONN_LINGER_MS 2000

/* Connections waiting to be written are spread over this many phase
 * groups by id: group g is written at the times g/FLUSH_GROUPS of an
 * interval past each multiple of the interval. All members of a big room
 * get each message at once; written at one tick they would reach nginx and
 * the clients as one burst of a thousand writes, and the last of them would
 * wait for all the others. Spread, each tick writes a slice. */
#define FLUSH_GROUPS 16

/* This file's part of the module state (conn.c keeps the connections). */
static struct {
    struct loop *loop;
    struct conn *dirty;
    struct conn *due[FLUSH_GROUPS]; /* open connections waiting for their group's tick */
    long long due_at[FLUSH_GROUPS]; /* when each non-empty group is written */
    long long due_timer;            /* the loop timer for the earliest group, 0: none */
    long long timer_at;             /* when that timer fires */
} cs;

void conn_out_init(struct loop *loop)
{
    cs.loop = loop;
}

void conn_out_free(void)
{
    cs.dirty = NULL;
    if (cs.due_timer)
        loop_del_timer(cs.loop, cs.due_timer);
    cs.due_timer = 0;
}

/* Queue c for the before-sleep pass (flush or free). */
void conn_touch(struct conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = cs.dirty;
    cs.dirty = c;
}

static unsigned flush_group(const struct conn *c)
{
    return (unsigned)(c->id % FLUSH_GROUPS);
}

/* Take c off its flush-due list (if it is on one). */
void conn_undue(struct conn *c)
{
    if (!c->due)
        return;
    if (c->due_prev)
        c->due_prev->due_next = c->due_next;
    else
        cs.due[flush_group(c)] = c->due_next;
    if (c->due_next)
        c->due_next->due_prev = c->due_prev;
    c->due = false;
    c->due_prev = c->due_next = NULL;
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

void conn_flush_soon(struct conn *c)
{
    c->flush_soon = true;
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

void conn_send_http(struct conn *c, const char *bytes, size_t len)
{
    outq_append(&c->out, bytes, len);
    c->state = CONN_HTTP_DONE;
    c->deadline_ms = loop_now_ms() + CONN_CLOSE_TIMEOUT_MS;
    conn_touch(c);
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

void conn_flush(struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    c->flush_soon = false;
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

/* --- the loop's hooks ------------------------------------------------------------ */

static long long conn_due_tick(struct loop *loop, long long id, void *data);

/* Arm the tick for the earliest non-empty group (or leave it disarmed). */
static void conn_arm_due_timer(void)
{
    long long first = -1;
    for (unsigned g = 0; g < FLUSH_GROUPS; g++)
        if (cs.due[g] && (first < 0 || cs.due_at[g] < first))
            first = cs.due_at[g];
    if (cs.due_timer && (first < 0 || first != cs.timer_at)) {
        loop_del_timer(cs.loop, cs.due_timer);
        cs.due_timer = 0;
    }
    if (first >= 0 && !cs.due_timer) {
        long long now = loop_now_ms();
        cs.due_timer = loop_add_timer(cs.loop, first > now ? first - now : 0, conn_due_tick, NULL);
        cs.timer_at = first;
    }
}

/* The flush tick: write every connection of the groups now due. */
static long long conn_due_tick(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id, (void)data;
    cs.due_timer = 0;
    long long now = loop_now_ms();
    for (unsigned g = 0; g < FLUSH_GROUPS; g++) {
        if (cs.due_at[g] > now)
            continue;
        while (cs.due[g]) {
            struct conn *c = cs.due[g];
            conn_undue(c);
            conn_flush(c);
        }
    }
    conn_arm_due_timer();
    return -1;
}

/* The next time group g is written: its offset into the interval past a
 * multiple of the interval (on the monotonic clock), after now (now is far
 * past the first interval, so now - offset is positive). */
static long long group_next_tick(unsigned g, long long now)
{
    long long f = cfg.flush_interval_ms, offset = (long long)g * f / FLUSH_GROUPS;
    return now - (now - offset) % f + f;
}

/* Put c on its group's flush-due list; the group is written at its next
 * tick. */
static void conn_defer(struct conn *c, long long now)
{
    if (c->due)
        return;
    unsigned g = flush_group(c);
    if (!cs.due[g])
        cs.due_at[g] = group_next_tick(g, now);
    c->due = true;
    c->due_prev = NULL;
    c->due_next = cs.due[g];
    if (cs.due[g])
        cs.due[g]->due_prev = c;
    cs.due[g] = c;
    if (!cs.due_timer || cs.due_at[g] < cs.timer_at)
        conn_arm_due_timer();
}

/* Write c now, leave it to EPOLLOUT, or defer it to the flush tick. */
static void conn_flush_or_defer(struct conn *c, long long now)
{
    if (c->state != CONN_OPEN || cfg.flush_interval_ms == 0 || !c->out.bytes) {
        conn_flush(c);
    } else if (c->write_armed) {
        /* socket full: EPOLLOUT writes it */
    } else if (c->flush_soon || now - c->last_flush_ms >= cfg.flush_interval_ms) {
        conn_undue(c);
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
