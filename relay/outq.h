/* outq.h -- a connection's outgoing byte stream: a FIFO of chunks, each a
 * shared frame (struct frame, by reference) or private bytes (owned),
 * written with writev. Byte order is exactly append order. */
#ifndef RELAY_OUTQ_H
#define RELAY_OUTQ_H

#include "frame.h"

#include <stddef.h>
#include <sys/types.h>

struct outq_chunk;

struct outq {
    struct outq_chunk *head, *tail;
    size_t bytes; /* queued and not yet written */
};

/* Append a copy of len bytes (coalesced with a private tail chunk). */
void outq_append(struct outq *q, const void *data, size_t len);

/* Append a shared frame; the queue takes its own reference. */
void outq_append_frame(struct outq *q, struct frame *f);

/* Drop every chunk except a partly written head (so the stream stays
 * framed); used before a final close frame when a client is too slow. */
void outq_trim(struct outq *q);

/* true when the head chunk has been partly written. */
int outq_head_started(const struct outq *q);

/* Write as much as the socket takes (writev, up to 64 chunks per call,
 * looping). Returns the bytes written (>= 0; 0 also when it would block),
 * or -1 with errno set on a socket error. */
ssize_t outq_write(struct outq *q, int fd);

/* Free every chunk. */
void outq_clear(struct outq *q);

#endif
