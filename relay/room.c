/* room.c -- rooms and their members: the registry, joins (snapshot, replay
 * and the frames that arrived meanwhile), leaves, join/leave events and
 * presence, and the calls that walk every room. Committed messages reach
 * the members through room_order.c. */
#include "room.h"
#include "chatjson.h"
#include "log.h"
#include "metrics.h"
#include "post.h"
#include "presence.h"
#include "room_internal.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define ROOM_BUCKETS 4096

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

struct room *room_find(const char *name)
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

void room_maybe_free(struct room *r)
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

long long room_online(struct room *r)
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

/* --- every room ---------------------------------------------------------------- */

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
