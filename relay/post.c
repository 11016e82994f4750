/* post.c -- one transaction per writer connection for the messages queued
 * for it (at most one batch per RELAY_BATCH_DELAY unless many wait),
 * pipelined; rooms are spread over the writers by id. */
#include "post.h"
#include "log.h"
#include "loop.h"
#include "room.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Largest batch (one statement, one transaction). */
#define POST_BATCH_MAX 4000
/* Batches in one writer's pipeline at once: while one commits (fsync) the
 * next is already on the server's socket; more would only make batches
 * smaller. */
#define POST_PIPELINE 2
/* Messages waiting for a batch, over every room and writer. */
#define POST_QUEUE_MAX 50000
/* A queue this long is sent at once, without waiting RELAY_BATCH_DELAY. */
#define POST_BATCH_FULL 64
/* A writer posting at least this many messages a second (averaged over its
 * last batches) is busy: it waits RELAY_BATCH_DELAY_BUSY between batches,
 * when that is set (off by default), until its rate falls below
 * POST_BUSY_LEAVE. A batch costs PostgreSQL about the same whatever its
 * size, so on a machine where PostgreSQL's CPU is scarce, fewer batches
 * leave more of it to the relay, nginx and the clients; where it is not,
 * the longer delay only adds latency (docs/relay.md, "Busy writers wait
 * longer"). */
#define POST_BUSY_ENTER 800
#define POST_BUSY_LEAVE 400
/* The rate is averaged over about this long (ms), so a writer enters the
 * busy state after a tenth of a second at that rate and leaves it with the
 * first batch after a pause. */
#define POST_RATE_WINDOW_MS 100

struct post {
    struct post *next;
    struct room *room; /* referenced (room_ref) until the batch is done */
    unsigned long long conn_id;
    long long uid;
    unsigned char skey_hash[32];
    bool image;
    char *body, *cid; /* owned; handed to the room when committed */
};

struct batch {
    struct post **posts;
    size_t n;
    size_t writer;
};

/* One queue per writer connection: a room always goes to the same writer
 * (room id mod writers), so its batches commit in the order they are sent,
 * and two writers never lock the same room. */
struct post_queue {
    struct post *head, *tail;
    size_t n;
    int inflight;
    long long last_sent_ms; /* loop_now_ms() when its last batch was sent */
    double rate;            /* messages/s, moving average over its batches */
    bool busy;              /* waits RELAY_BATCH_DELAY_BUSY (see POST_BUSY_ENTER) */
};

static struct post_queue pqs[STORE_MAX_WRITERS];
static size_t pq_total;
/* The timer that wakes the loop when a held batch is due (0: none), and
 * when it fires. */
static long long delay_timer, delay_timer_due;

static void post_free(struct post *p)
{
    room_unref(p->room);
    free(p->body);
    free(p->cid);
    free(p);
}

int post_queue(struct conn *c, struct room *r, const struct msg_input *in)
{
    size_t w = store_writers();
    if (pq_total >= POST_QUEUE_MAX || w == 0)
        return -1;
    struct post_queue *q = &pqs[(unsigned long long)room_id(r) % w];
    struct post *p = xmalloc(sizeof(*p));
    *p = (struct post){.room = room_ref(r), .conn_id = c->id, .uid = c->uid,
                       .image = in->image, .body = xstrndup(in->body, in->body_len),
                       .cid = in->cid ? xstrdup(in->cid) : NULL};
    memcpy(p->skey_hash, c->skey_hash, sizeof(p->skey_hash));
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
    pq_total++;
    return 0;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        post_free(b->posts[i]);
    free(b->posts);
    free(b);
}

/* Tell every sender of a failed batch that nothing was saved. */
static void batch_fail(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct conn *c = conn_find(b->posts[i]->conn_id);
        if (c && c->state == CONN_OPEN)
            conn_send_error(c, "ERR_UNAVAILABLE", "message not saved: database unavailable",
                            b->posts[i]->cid);
    }
}

/* A resent cid: the stored message again, to its sender only. */
static void post_duplicate(const struct post *p, const struct store_row *row)
{
    struct conn *c = conn_find(p->conn_id);
    if (c && c->state == CONN_OPEN)
        room_send_stored(p->room, c, row);
}

/* The sender's session ended (expired or revoked) before its message. */
static void post_invalid(const struct post *p)
{
    struct conn *c = conn_find(p->conn_id);
    if (c && c->state == CONN_OPEN)
        conn_reject_session(c, "session expired or revoked");
}

static void post_done(void *ctx, int status, const struct store_row *rows, size_t n)
{
    struct batch *b = ctx;
    pqs[b->writer].inflight--;
    if (status < 0) {
        batch_fail(b);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (rows[i].idx < 1 || (size_t)rows[i].idx > b->n)
                continue;
            struct post *p = b->posts[rows[i].idx - 1];
            if (rows[i].invalid) {
                post_invalid(p);
            } else if (rows[i].duplicate) {
                if (rows[i].seq)
                    post_duplicate(p, &rows[i]);
            } else if (rows[i].seq) {
                /* the room takes the body and cid: no copy */
                room_committed(p->room, &rows[i], p->body, p->cid);
                p->body = p->cid = NULL;
            }
        }
    }
    /* every room of the batch: done in flight, deliver what is now in order */
    for (size_t i = 0; i < b->n; i++)
        room_batch_end(b->posts[i]->room);
    batch_free(b);
}

/* Send the next batch of writer w's queue. */
static void post_send_batch(size_t w)
{
    struct post_queue *q = &pqs[w];
    size_t n = q->n < POST_BATCH_MAX ? q->n : POST_BATCH_MAX;
    struct batch *b = xcalloc(1, sizeof(*b));
    b->writer = w;
    b->posts = xcalloc(n, sizeof(*b->posts));
    long long *rids = xcalloc(n, sizeof(*rids)), *uids = xcalloc(n, sizeof(*uids));
    const char **kinds = xcalloc(n, sizeof(*kinds)), **bodies = xcalloc(n, sizeof(*bodies));
    const char **cids = xcalloc(n, sizeof(*cids));
    unsigned char(*hashes)[32] = xcalloc(n, sizeof(*hashes));
    for (size_t i = 0; i < n; i++) {
        struct post *p = q->head;
        q->head = p->next;
        p->next = NULL;
        b->posts[i] = p;
        rids[i] = room_id(p->room);
        uids[i] = p->uid;
        kinds[i] = p->image ? "image" : "text";
        bodies[i] = p->body;
        cids[i] = p->cid;
        memcpy(hashes[i], p->skey_hash, sizeof(hashes[i]));
        room_batch_begin(p->room);
    }
    b->n = n;
    q->n -= n;
    pq_total -= n;
    if (!q->head)
        q->tail = NULL;
    if (store_post(w, n, rids, uids, kinds, bodies, cids, (const unsigned char(*)[32])hashes,
                   post_done, b) == 0) {
        q->inflight++;
    } else {
        batch_fail(b);
        for (size_t i = 0; i < b->n; i++)
            room_batch_end(b->posts[i]->room);
        batch_free(b);
    }
    free(rids), free(uids), free(kinds), free(bodies), free(cids), free(hashes);
}

/* When queue q's next batch may go: RELAY_BATCH_DELAY after its previous
 * one (so a quiet writer posts at once), RELAY_BATCH_DELAY_BUSY while the
 * writer is busy, or at once when the queue is long. */
static long long batch_due_ms(const struct post_queue *q)
{
    if (q->n >= POST_BATCH_FULL)
        return 0;
    long long delay = cfg.batch_delay_ms;
    if (q->busy && cfg.batch_delay_busy_ms > delay)
        delay = cfg.batch_delay_busy_ms;
    return q->last_sent_ms + delay;
}

/* Account for a batch of n messages sent at `now`: the writer's rate, a
 * moving average of n over the time since its previous batch (weighted by
 * that time), decides whether it is busy. */
static void note_batch_rate(struct post_queue *q, size_t n, long long now)
{
    double gap = (double)(now - q->last_sent_ms > 0 ? now - q->last_sent_ms : 1);
    q->rate += ((double)n * 1000 / gap - q->rate) * gap / (gap + POST_RATE_WINDOW_MS);
    bool busy = q->busy ? q->rate >= POST_BUSY_LEAVE : q->rate >= POST_BUSY_ENTER;
    if (busy != q->busy)
        log_debug("writer %td %s (%.0f messages/s)", q - pqs, busy ? "busy" : "no longer busy",
                  q->rate);
    q->busy = busy;
}

static long long delay_timer_fired(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id, (void)data;
    delay_timer = 0; /* the before-sleep pass that follows sends what is due */
    return -1;
}

void post_before_sleep(struct loop *loop)
{
    long long now = loop_now_ms(), next_due = -1;
    for (size_t w = 0; w < STORE_MAX_WRITERS; w++) {
        struct post_queue *q = &pqs[w];
        while (q->n && q->inflight < POST_PIPELINE) {
            long long due = batch_due_ms(q);
            if (due > now) {
                if (next_due < 0 || due < next_due)
                    next_due = due;
                break;
            }
            note_batch_rate(q, q->n < POST_BATCH_MAX ? q->n : POST_BATCH_MAX, now);
            post_send_batch(w);
            q->last_sent_ms = now;
        }
    }
    if (next_due < 0 || (delay_timer && delay_timer_due <= next_due))
        return;
    if (delay_timer)
        loop_del_timer(loop, delay_timer);
    delay_timer = loop_add_timer(loop, next_due - now, delay_timer_fired, NULL);
    delay_timer_due = next_due;
}

size_t post_queued(void)
{
    return pq_total;
}

void post_module_free(void)
{
    for (size_t w = 0; w < STORE_MAX_WRITERS; w++) {
        struct post_queue *q = &pqs[w];
        while (q->head) {
            struct post *p = q->head;
            q->head = p->next;
            post_free(p);
        }
        q->tail = NULL;
        q->n = 0;
        q->rate = 0;
        q->busy = false;
    }
    pq_total = 0;
    delay_timer = 0; /* the loop that held it is gone */
}
