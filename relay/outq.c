/* outq.c -- chunked output queue with shared frames and writev. */
#include "outq.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define OUTQ_PRIVATE_MIN 512
#define OUTQ_IOV 64

struct outq_chunk {
    struct outq_chunk *next;
    struct frame *frame; /* shared, or NULL for private bytes */
    uint8_t *buf;        /* private bytes */
    size_t len, cap, off;
};

static const uint8_t *chunk_data(const struct outq_chunk *c)
{
    return c->frame ? c->frame->data : c->buf;
}

static void chunk_push(struct outq *q, struct outq_chunk *c)
{
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static void chunk_free(struct outq_chunk *c)
{
    frame_unref(c->frame);
    free(c->buf);
    free(c);
}

void outq_append(struct outq *q, const void *data, size_t len)
{
    if (len == 0)
        return;
    struct outq_chunk *t = q->tail;
    if (!t || t->frame || t->off > 0 || t->cap - t->len < len) {
        t = xcalloc(1, sizeof(*t));
        t->cap = len > OUTQ_PRIVATE_MIN ? len : OUTQ_PRIVATE_MIN;
        t->buf = xmalloc(t->cap);
        chunk_push(q, t);
    }
    memcpy(t->buf + t->len, data, len);
    t->len += len;
    q->bytes += len;
}

void outq_append_frame(struct outq *q, struct frame *f)
{
    struct outq_chunk *c = xcalloc(1, sizeof(*c));
    c->frame = frame_ref(f);
    c->len = f->len;
    chunk_push(q, c);
    q->bytes += f->len;
}

int outq_head_started(const struct outq *q)
{
    return q->head && q->head->off > 0;
}

void outq_trim(struct outq *q)
{
    struct outq_chunk *keep = outq_head_started(q) ? q->head : NULL;
    struct outq_chunk *c = keep ? keep->next : q->head;
    while (c) {
        struct outq_chunk *next = c->next;
        chunk_free(c);
        c = next;
    }
    q->head = q->tail = keep;
    if (keep)
        keep->next = NULL;
    q->bytes = keep ? keep->len - keep->off : 0;
}

/* Advance past n written bytes, freeing finished chunks. */
static void outq_consume(struct outq *q, size_t n)
{
    q->bytes -= n;
    while (n > 0 && q->head) {
        struct outq_chunk *c = q->head;
        size_t left = c->len - c->off;
        if (n < left) {
            c->off += n;
            return;
        }
        n -= left;
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        chunk_free(c);
    }
}

ssize_t outq_write(struct outq *q, int fd)
{
    ssize_t total = 0;
    while (q->head) {
        struct iovec iov[OUTQ_IOV];
        int n = 0;
        for (struct outq_chunk *c = q->head; c && n < OUTQ_IOV; c = c->next, n++) {
            iov[n].iov_base = (void *)(chunk_data(c) + c->off);
            iov[n].iov_len = c->len - c->off;
        }
        ssize_t w = writev(fd, iov, n);
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
    return total;
}

void outq_clear(struct outq *q)
{
    while (q->head) {
        struct outq_chunk *c = q->head;
        q->head = c->next;
        chunk_free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
}
