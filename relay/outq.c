/* outq.c -- output queue: a ring of shared frames, written with writev. */
#include "outq.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define OUTQ_RING_MIN 8
#define OUTQ_IOV 64

static struct frame *at(const struct outq *q, unsigned i)
{
    return q->ring[(q->head + i) & (q->cap - 1)];
}

/* Make room for one more frame (grow by doubling, unwrapping the ring). */
static void outq_reserve(struct outq *q)
{
    if (q->n < q->cap)
        return;
    unsigned cap = q->cap ? 2 * q->cap : OUTQ_RING_MIN;
    struct frame **ring = xmalloc(cap * sizeof(*ring));
    for (unsigned i = 0; i < q->n; i++)
        ring[i] = at(q, i);
    free(q->ring);
    q->ring = ring;
    q->head = 0;
    q->cap = cap;
}

/* Release the ring once nothing is queued (idle connections hold none). */
static void outq_release_if_empty(struct outq *q)
{
    if (q->n == 0 && q->ring) {
        free(q->ring);
        q->ring = NULL;
        q->cap = q->head = 0;
        q->off = 0;
    }
}

void outq_append_frame(struct outq *q, struct frame *f)
{
    outq_reserve(q);
    q->ring[(q->head + q->n) & (q->cap - 1)] = frame_ref(f);
    q->n++;
    q->bytes += f->len;
}

void outq_append(struct outq *q, const void *data, size_t len)
{
    if (len == 0)
        return;
    struct frame *f = frame_raw(data, len);
    outq_append_frame(q, f);
    frame_unref(f);
}

int outq_head_started(const struct outq *q)
{
    return q->n > 0 && q->off > 0;
}

void outq_trim(struct outq *q)
{
    unsigned keep = outq_head_started(q) ? 1 : 0;
    for (unsigned i = keep; i < q->n; i++)
        frame_unref(at(q, i));
    q->n = keep;
    q->bytes = keep ? at(q, 0)->len - q->off : 0;
    if (!keep)
        q->off = 0;
    outq_release_if_empty(q);
}

/* Advance past n written bytes, dropping finished frames. */
static void outq_consume(struct outq *q, size_t n)
{
    q->bytes -= n;
    while (n > 0 && q->n > 0) {
        struct frame *f = at(q, 0);
        size_t left = f->len - q->off;
        if (n < left) {
            q->off += n;
            return;
        }
        n -= left;
        q->off = 0;
        q->head = (q->head + 1) & (q->cap - 1);
        q->n--;
        frame_unref(f);
    }
}

ssize_t outq_write(struct outq *q, int fd)
{
    ssize_t total = 0;
    while (q->n > 0) {
        struct iovec iov[OUTQ_IOV];
        unsigned n = q->n < OUTQ_IOV ? q->n : OUTQ_IOV;
        for (unsigned i = 0; i < n; i++) {
            struct frame *f = at(q, i);
            size_t skip = i == 0 ? q->off : 0;
            iov[i].iov_base = f->data + skip;
            iov[i].iov_len = f->len - skip;
        }
        ssize_t w = writev(fd, iov, (int)n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        outq_consume(q, (size_t)w);
        total += w;
    }
    outq_release_if_empty(q);
    return total;
}

void outq_clear(struct outq *q)
{
    for (unsigned i = 0; i < q->n; i++)
        frame_unref(at(q, i));
    q->n = 0;
    q->bytes = 0;
    outq_release_if_empty(q);
}
