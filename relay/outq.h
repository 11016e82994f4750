/* outq.h -- a connection's outgoing byte stream: a FIFO of frames (struct
 * frame, by reference: a broadcast frame is shared by every recipient,
 * private bytes get a frame of their own), written with writev. Byte order
 * is exactly append order. The FIFO is a ring of frame pointers, so queuing
 * a frame for a recipient allocates nothing (the ring is allocated when the
 * first frame arrives and freed when the queue is written out: an idle
 * connection holds no ring). */
#ifndef RELAY_OUTQ_H
#define RELAY_OUTQ_H

#include "frame.h"

#include <stddef.h>
#include <sys/types.h>

struct outq {
    struct frame **ring; /* NULL while empty */
    unsigned head, n, cap; /* cap: 0 or a power of two */
    size_t off;            /* bytes of the head frame already written */
    size_t bytes;          /* queued and not yet written */
};

/* Append a copy of len bytes (a private frame). */
void outq_append(struct outq *q, const void *data, size_t len);

/* Append a shared frame; the queue takes its own reference. */
void outq_append_frame(struct outq *q, struct frame *f);

/* Drop every frame except a partly written head (so the stream stays
 * framed); used before a final close frame when a client is too slow. */
void outq_trim(struct outq *q);

/* true when the head frame has been partly written. */
int outq_head_started(const struct outq *q);

/* Write as much as the socket takes (writev, up to 64 frames per call,
 * looping). Returns the bytes written (>= 0; 0 also when it would block),
 * or -1 with errno set on a socket error. */
ssize_t outq_write(struct outq *q, int fd);

/* Free every frame and the ring. */
void outq_clear(struct outq *q);

#endif
