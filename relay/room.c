/* room.c -- rooms, joins, batched posts and ordered fan-out. */
#include "room.h"
#include "chatjson.h"
#include "log.h"
#include "metrics.h"
#include "post.h"
#include "presence.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_BUCKETS 4096
#define ROOM_FETCH_MAX 500

/* A committed message of ours, waiting for its turn to be delivered. */
struct held_msg {
    long long seq, uid, time_ms;
    bool image;
    char *nickname, *avatar_url, *content, *cid;
};

struct held {
    struct held *next;
    long long first, last;
    size_t n, cap;
    struct held_msg *msgs;
};

struct room {
    char name[65];
    long long id;
    bool initialized;
    long long delivered; /* every id <= delivered has been fanned out */
    long long target;    /* highest id known to be committed */
    bool fetching;
    long long posting; /* our messages in batches in flight (post.c) */
    struct conn *members;
    long long members_n, local_count;
    struct held *held;     /* committed rows of ours, by first id */
    struct held *building; /* rows of the batch being taken in */
    int busy; /* jobs in flight, posts queued, callers on the stack */
    struct room *hash_next, *next, *prev;
};

static struct {
    struct room *buckets[ROOM_BUCKETS];
    struct room *all;
} rs;

static unsigned room_hash(const char *name)
{
    unsigned h = 5381;
    while (*name)
        h = h * 33 + (unsigned char)*name++;
    return h % ROOM_BUCKETS;
}

static struct room *room_find(const char *name)
{
    for (struct room *r = rs.buckets[room_hash(name)]; r; r = r->hash_next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

static struct room *room_get(const char *name)
{
    struct room *r = room_find(name);
    if (r)
        return r;
    r = xcalloc(1, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    unsigned h = room_hash(name);
    r->hash_next = rs.buckets[h];
    rs.buckets[h] = r;
    r->next = rs.all;
    if (rs.all)
        rs.all->prev = r;
    rs.all = r;
    metrics.rooms++;
    return r;
}

static void held_free(struct held *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct held_msg *m = &h->msgs[i];
        free(m->nickname), free(m->avatar_url), free(m->content), free(m->cid);
    }
    free(h->msgs);
    free(h);
}

static void room_free(struct room *r)
{
    struct room **pp = &rs.buckets[room_hash(r->name)];
    while (*pp != r)
        pp = &(*pp)->hash_next;
    *pp = r->hash_next;
    if (r->prev)
        r->prev->next = r->next;
    else
        rs.all = r->next;
    if (r->next)
        r->next->prev = r->prev;
    while (r->held) {
        struct held *h = r->held;
        r->held = h->next;
        held_free(h);
    }
    if (r->building)
        held_free(r->building);
    metrics.rooms--;
    free(r);
}

/* Free r when nothing refers to it any more. */
static void room_maybe_free(struct room *r)
{
    if (r->members_n == 0 && r->busy == 0)
        room_free(r);
}

void room_module_free(void)
{
    while (rs.all)
        room_free(rs.all);
}

long long room_online_by_name(const char *name)
{
    struct room *r = room_find(name);
    return (r ? r->local_count : 0) + presence_remote(name);
}

static long long room_online(struct room *r)
{
    return r->local_count + presence_remote(r->name);
}

/* Send a join/leave event with `num` to every open member except `skip`. */
static void room_event(struct room *r, struct conn *skip, bool join, long long num)
{
    size_t len;
    char *json = chatjson_event(num, r->name, join, &len);
    struct frame *f = frame_text(json, len);
    free(json);
    r->busy++;
    for (struct conn *m = r->members, *next; m; m = next) {
        next = m->room_next;
        if (m != skip && m->room == r && m->state == CONN_OPEN)
            conn_send_frame(m, f);
    }
    r->busy--;
    frame_unref(f);
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
            conn_send_frame(m, variant(&v, row, r->name, user, num));
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

/* Deliver what is deliverable in order; fetch the first gap. */
static void room_advance(struct room *r)
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

/* --- joining ------------------------------------------------------------------ */

struct join_ctx {
    struct room *room;
    unsigned long long conn_id;
};

/* Send the open frame, the replay and the frames that arrived meanwhile. */
static void room_join_complete(struct conn *c, struct room *r, const struct store_room *snap,
                               const struct store_row *rows, size_t n)
{
    long long L = snap->last_seq, H = cfg.history;
    size_t first = 0, from = n > (size_t)H ? n - (size_t)H : 0;
    int recovered = -1;
    if (c->since >= 0) {
        while (first < n && rows[first].seq <= c->since)
            first++;
        bool ok = (!c->has_epoch || strcmp(c->epoch, snap->epoch) == 0) && c->since <= L &&
                  L - c->since <= cfg.catchup_max && (long long)(n - first) == L - c->since;
        recovered = ok;
        if (ok)
            from = first;
    }
    c->state = CONN_OPEN;
    c->joined = true;
    r->local_count++;
    long long num = room_online(r);
    size_t len;
    char *json = chatjson_open(num, r->name, L, snap->epoch, recovered, &len);
    conn_send_json(c, json, len);
    for (size_t i = from; i < n; i++) {
        bool user = rows[i].user_id != 0 && rows[i].user_id == c->uid;
        json = chatjson_message(&rows[i], r->name, user, num, true, &len);
        conn_send_json(c, json, len);
    }
    c->next_seq = L + 1;
    struct conn_pending *p = c->pend_head;
    c->pend_head = c->pend_tail = NULL;
    c->pend_bytes = 0;
    while (p) {
        struct conn_pending *next = p->next;
        if (p->seq >= c->next_seq && c->state == CONN_OPEN && conn_send_frame(c, p->frame) == 0)
            c->next_seq = p->seq + 1;
        frame_unref(p->frame);
        free(p);
        p = next;
    }
    log_info("conn=%llu peer=%s uid=%lld joined room=%s seq=%lld replayed=%zu%s", c->id, c->peer,
             c->uid, r->name, L, n - from,
             recovered < 0 ? "" : recovered ? " recovered" : " not-recovered");
    if (c->state != CONN_OPEN)
        return;
    room_event(r, c, true, num);
    presence_local(r->name, r->local_count);
    conn_opened(c);
}

static void join_done(void *ctx, int status, const struct store_room *snap,
                      const struct store_row *rows, size_t n)
{
    struct join_ctx *j = ctx;
    struct room *r = j->room;
    if (status == 0 && !r->initialized) {
        r->id = snap->room_id;
        r->delivered = snap->last_seq;
        r->initialized = true;
    }
    if (status == 0 && snap->last_seq > r->target)
        r->target = snap->last_seq;
    struct conn *c = conn_find(j->conn_id);
    if (c && c->state == CONN_JOINING && c->room == r) {
        if (status == 0) {
            room_join_complete(c, r, snap, rows, n);
        } else {
            conn_send_error(c, "ERR_UNAVAILABLE", "database unavailable", NULL);
            conn_close(c, 1011, "database unavailable");
        }
    }
    free(j);
    room_advance(r);
    r->busy--;
    room_maybe_free(r);
}

static void room_unlink_member(struct room *r, struct conn *c)
{
    if (c->room_prev)
        c->room_prev->room_next = c->room_next;
    else
        r->members = c->room_next;
    if (c->room_next)
        c->room_next->room_prev = c->room_prev;
    /* c's own links stay: an iteration standing on c can still move on */
    r->members_n--;
    c->room = NULL;
}

int room_join(struct conn *c)
{
    struct room *r = room_get(c->room_name);
    c->room = r;
    c->room_prev = NULL;
    c->room_next = r->members;
    if (r->members)
        r->members->room_prev = c;
    r->members = c;
    r->members_n++;
    struct join_ctx *j = xcalloc(1, sizeof(*j));
    j->room = r;
    j->conn_id = c->id;
    long long limit = cfg.catchup_max + 1 > cfg.history ? cfg.catchup_max + 1 : cfg.history;
    if (store_room_join(r->name, c->since, cfg.history, limit, join_done, j) < 0) {
        free(j);
        room_unlink_member(r, c);
        room_maybe_free(r);
        return -1;
    }
    r->busy++;
    return 0;
}

void room_leave(struct conn *c)
{
    struct room *r = c->room;
    if (!r)
        return;
    room_unlink_member(r, c);
    conn_pending_clear(c);
    if (c->joined) {
        c->joined = false;
        r->local_count--;
        r->busy++;
        room_event(r, c, false, room_online(r));
        r->busy--;
        presence_local(r->name, r->local_count);
    }
    room_maybe_free(r);
}

/* --- posting (batches are built by post.c) ----------------------------------- */

int room_post(struct conn *c, const struct msg_input *in)
{
    struct room *r = c->room;
    if (!r || !r->initialized)
        return -1;
    return post_queue(c, r, in);
}

struct room *room_ref(struct room *r)
{
    r->busy++;
    return r;
}

void room_unref(struct room *r)
{
    r->busy--;
    room_maybe_free(r);
}

long long room_id(const struct room *r)
{
    return r->id;
}

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

static void resync_done(void *ctx, int status, long long value)
{
    struct room *r = ctx;
    if (status == 0 && value > r->target)
        r->target = value;
    room_advance(r);
    r->busy--;
    room_maybe_free(r);
}

void room_resync(void)
{
    for (struct room *r = rs.all; r; r = r->next)
        if (r->initialized && store_room_last(r->id, resync_done, r) == 0)
            r->busy++;
}

void room_tick(void)
{
    for (struct room *r = rs.all, *next; r; r = next) {
        next = r->next;
        if (r->initialized && r->target > r->delivered && !r->fetching) {
            r->busy++;
            room_advance(r);
            r->busy--;
        }
    }
}

void room_remote_changed(const char *name, long long before, long long after)
{
    struct room *r = room_find(name);
    if (!r || r->local_count == 0)
        return;
    long long delta = after - before, steps = delta < 0 ? -delta : delta;
    if (steps > 10)
        steps = 10;
    for (long long k = 1; k <= steps; k++) {
        long long remote = delta > 0 ? after - steps + k : after + steps - k;
        room_event(r, NULL, delta > 0, r->local_count + remote);
    }
}

void room_foreach_local(void (*fn)(const char *name, long long count))
{
    for (struct room *r = rs.all; r; r = r->next)
        if (r->local_count > 0)
            fn(r->name, r->local_count);
}
