/* post.c -- one transaction for all messages of a loop turn, pipelined. */
#include "post.h"
#include "log.h"
#include "room.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Largest batch (one statement, one transaction). */
#define POST_BATCH_MAX 4000
/* Batches in the pipeline at once: while one commits (fsync) the next is
 * already on the server's socket; more would only make batches smaller. */
#define POST_PIPELINE 2
/* Messages waiting for a batch, over every room. */
#define POST_QUEUE_MAX 50000

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
};

static struct {
    struct post *head, *tail;
    size_t n;
    int inflight;
} pq;

static void post_free(struct post *p)
{
    room_unref(p->room);
    free(p->body);
    free(p->cid);
    free(p);
}

int post_queue(struct conn *c, struct room *r, const struct msg_input *in)
{
    if (pq.n >= POST_QUEUE_MAX)
        return -1;
    struct post *p = xmalloc(sizeof(*p));
    *p = (struct post){.room = room_ref(r), .conn_id = c->id, .uid = c->uid,
                       .image = in->image, .body = xstrndup(in->body, in->body_len),
                       .cid = in->cid ? xstrdup(in->cid) : NULL};
    memcpy(p->skey_hash, c->skey_hash, sizeof(p->skey_hash));
    if (pq.tail)
        pq.tail->next = p;
    else
        pq.head = p;
    pq.tail = p;
    pq.n++;
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
    pq.inflight--;
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

static void post_send_batch(void)
{
    size_t n = pq.n < POST_BATCH_MAX ? pq.n : POST_BATCH_MAX;
    struct batch *b = xcalloc(1, sizeof(*b));
    b->posts = xcalloc(n, sizeof(*b->posts));
    long long *rids = xcalloc(n, sizeof(*rids)), *uids = xcalloc(n, sizeof(*uids));
    const char **kinds = xcalloc(n, sizeof(*kinds)), **bodies = xcalloc(n, sizeof(*bodies));
    const char **cids = xcalloc(n, sizeof(*cids));
    unsigned char(*hashes)[32] = xcalloc(n, sizeof(*hashes));
    for (size_t i = 0; i < n; i++) {
        struct post *p = pq.head;
        pq.head = p->next;
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
    pq.n -= n;
    if (!pq.head)
        pq.tail = NULL;
    if (store_post(n, rids, uids, kinds, bodies, cids, (const unsigned char(*)[32])hashes,
                   post_done, b) == 0) {
        pq.inflight++;
    } else {
        batch_fail(b);
        for (size_t i = 0; i < b->n; i++)
            room_batch_end(b->posts[i]->room);
        batch_free(b);
    }
    free(rids), free(uids), free(kinds), free(bodies), free(cids), free(hashes);
}

void post_before_sleep(void)
{
    while (pq.n && pq.inflight < POST_PIPELINE)
        post_send_batch();
}

void post_module_free(void)
{
    while (pq.head) {
        struct post *p = pq.head;
        pq.head = p->next;
        post_free(p);
    }
    pq.tail = NULL;
    pq.n = 0;
}
