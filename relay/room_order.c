/* room_order.c -- committed messages to every member in id order, with no
 * gap and no duplicate per connection: this relay's own rows (held in
 * blocks until every smaller id is out), rows announced by other relays or
 * psql (fetched), and the frames of each message encoded once and shared. */
#include "chatjson.h"
#include "log.h"
#include "room_internal.h"
#include "settings.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>

/* Most rows fetched at once to fill a gap. */
#define ROOM_FETCH_MAX 500

/* --- held blocks ------------------------------------------------------------------ */

void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct held_msg *m = &h->msgs[i];
        free(m->nickname), free(m->avatar_url), free(m->content), free(m->cid);
    }
    free(h->msgs);
    free(h);
}

/* --- fan-out ------------------------------------------------------------------ */

/* The frames of one message, one per audience, each made when first needed. */
struct variants {
    struct frame *user, *remote;
};

/* The frame of this message for the sender (user) or the others: encoded
 * with jansson once, the other audience's copy made from it by changing the
 * type at its start. */
static struct frame *variant(struct variants *v, const struct store_row *row, const char *room,
                             bool user, long long num)
{
    struct frame **slot = user ? &v->user : &v->remote, *other = user ? v->remote : v->user;
    if (!*slot) {
        size_t len = 0, olen = 0;
        char *json = NULL;
        if (other) {
            const char *payload = frame_payload(other, &olen);
            json = chatjson_retype(payload, olen, user, &len);
        }
        if (!json)
            json = chatjson_message(row, room, user, num, false, &len);
        *slot = frame_text(json, len);
        free(json);
    }
    return *slot;
}

static void room_pending_add(struct conn *m, struct frame *f, long long seq)
{
    struct conn_pending *p = xcalloc(1, sizeof(*p));
    p->frame = frame_ref(f);
    p->seq = seq;
    if (m->pend_tail)
        m->pend_tail->next = p;
    else
        m->pend_head = p;
    m->pend_tail = p;
    m->pend_bytes += f->len;
}

/* Deliver one message to every member that has not had it yet. */
static void room_deliver(struct room *r, const struct store_row *row)
{
    struct variants v = {NULL, NULL};
    long long num = room_online(r);
    r->busy++;
    for (struct conn *m = r->members, *next; m; m = next) {
        next = m->room_next;
        if (m->room != r)
            continue;
        bool user = row->user_id != 0 && m->uid == row->user_id;
        if (m->state == CONN_JOINING) {
            room_pending_add(m, variant(&v, row, r->name, user, num), row->seq);
            if (m->pend_bytes > (size_t)cfg.queue_max)
                conn_close(m, 4008, "too slow");
        } else if (m->state == CONN_OPEN && row->seq >= m->next_seq) {
            m->next_seq = row->seq + 1;
            if (conn_send_frame(m, variant(&v, row, r->name, user, num)) == 0 && user)
                conn_flush_soon(m); /* its own message: the sender waits for it */
        }
    }
    r->busy--;
    frame_unref(v.user);
    frame_unref(v.remote);
    if (row->seq > r->delivered)
        r->delivered = row->seq;
}

static void held_row(const struct held_msg *m, struct store_row *row)
{
    *row = (struct store_row){.seq = m->seq, .user_id = m->uid, .nickname = m->nickname,
                              .avatar_url = m->avatar_url, .image = m->image,
                              .content = m->content, .cid = m->cid, .time_ms = m->time_ms};
}

static void fetch_done(void *ctx, int status, const struct store_row *rows, size_t n);

struct fetch_ctx {
    struct room *room;
    long long upto;
};

void room_advance(struct room *r)
{
    if (!r->initialized)
        return;
    r->busy++;
    for (;;) {
        struct held *h = r->held;
        if (h && h->last <= r->delivered) {
            r->held = h->next;
            held_free(h);
            continue;
        }
        if (!h || h->first > r->delivered + 1)
            break;
        for (size_t i = 0; i < h->n; i++) {
            struct store_row row;
            held_row(&h->msgs[i], &row);
            if (row.seq > r->delivered)
                room_deliver(r, &row);
        }
        r->held = h->next;
        held_free(h);
    }
    long long want = r->held ? r->held->first - 1 : r->target;
    /* While our own batch is in flight and nothing of ours is held, a gap
     * is most likely our own rows (their NOTIFY can arrive before the
     * batch's result): wait for the result rather than fetch them. */
    if (want > r->delivered && !r->fetching && (r->held || r->posting == 0)) {
        struct fetch_ctx *fc = xcalloc(1, sizeof(*fc));
        fc->room = r;
        fc->upto = want < r->delivered + ROOM_FETCH_MAX ? want : r->delivered + ROOM_FETCH_MAX;
        if (store_fetch(r->id, r->delivered, fc->upto, fetch_done, fc) == 0) {
            r->fetching = true;
            r->busy++;
        } else {
            free(fc);
        }
    }
    r->busy--;
}

static void fetch_done(void *ctx, int status, const struct store_row *rows, size_t n)
{
    struct fetch_ctx *fc = ctx;
    struct room *r = fc->room;
    r->busy--;
    r->fetching = false;
    if (status == 0) {
        for (size_t i = 0; i < n; i++)
            if (rows[i].seq > r->delivered)
                room_deliver(r, &rows[i]);
        if (fc->upto > r->delivered)
            r->delivered = fc->upto;
        room_advance(r);
    } else {
        log_warn("room=%s fetch of messages after %lld failed; retrying later", r->name,
                 r->delivered);
    }
    free(fc);
    room_maybe_free(r);
}

/* --- this relay's batches (post.c) ---------------------------------------------- */

void room_batch_begin(struct room *r)
{
    r->posting++;
}

void room_committed(struct room *r, const struct store_row *row, char *content, char *cid)
{
    struct held *h = r->building;
    if (!h) {
        h = r->building = xcalloc(1, sizeof(*h));
        h->first = row->seq;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->msgs = xrealloc(h->msgs, h->cap * sizeof(*h->msgs));
    }
    h->msgs[h->n++] = (struct held_msg){.seq = row->seq, .uid = row->user_id,
                                        .time_ms = row->time_ms, .image = row->image,
                                        .nickname = xstrdup(row->nickname),
                                        .avatar_url = xstrdup(row->avatar_url),
                                        .content = content, .cid = cid};
    h->last = row->seq;
}

/* Insert a block of committed rows of ours, ordered by first id. */
static void room_hold(struct room *r, struct held *h)
{
    struct held **pp = &r->held;
    while (*pp && (*pp)->first < h->first)
        pp = &(*pp)->next;
    h->next = *pp;
    *pp = h;
    if (h->last > r->target)
        r->target = h->last;
}

void room_batch_end(struct room *r)
{
    r->posting--;
    if (r->building) {
        room_hold(r, r->building);
        r->building = NULL;
    }
    r->busy++;
    room_advance(r);
    r->busy--;
}

void room_send_stored(struct room *r, struct conn *c, const struct store_row *row)
{
    size_t len;
    char *json =
        chatjson_message(row, row->room ? row->room : r->name, true, room_online(r), false, &len);
    conn_send_json(c, json, len);
}

/* --- notifications --------------------------------------------------------------- */

void room_notify_messages(const char *payload)
{
    json_error_t err;
    json_t *o = json_loads(payload, 0, &err);
    const char *name = json_string_value(json_object_get(o, "room"));
    json_t *to = json_object_get(o, "to");
    struct room *r = name ? room_find(name) : NULL;
    if (r && json_is_integer(to)) {
        long long last = json_integer_value(to);
        if (last > r->target)
            r->target = last;
        r->busy++;
        room_advance(r);
        r->busy--;
        room_maybe_free(r);
    } else if (!o || !name || !json_is_integer(to)) {
        log_warn("notify: bad chat_messages payload");
    }
    json_decref(o);
}

