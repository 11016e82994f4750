/* post.h -- batching of posted messages: everything queued for one writer
 * connection (the rooms with the same room id mod RELAY_DB_WRITERS) goes
 * to PostgreSQL as one transaction (chat_post_batch), with up to
 * POST_PIPELINE batches in each writer's pipeline, so the commit's fsync
 * and the function's fixed cost are paid once per batch rather than per
 * message or per room. A writer sends at most one batch per
 * RELAY_BATCH_DELAY (unless 64 messages wait), so under load a batch
 * collects what came in meanwhile, while a quiet writer posts at once.
 * Senders hear back (echo, duplicate, error) only after COMMIT. */
#ifndef RELAY_POST_H
#define RELAY_POST_H

#include "conn.h"
#include "msg.h"

struct loop;
struct room;

/* Queue a validated message of c (open in room r) for the next batch;
 * copies what it needs and holds a reference on r until the batch is done.
 * Returns 0, or -1 when the queue is full. */
int post_queue(struct conn *c, struct room *r, const struct msg_input *in);

/* Send every batch that is due while the pipeline has room (once per loop
 * turn, before sleeping); a batch held by RELAY_BATCH_DELAY gets a timer on
 * `loop` that wakes it when due. */
void post_before_sleep(struct loop *loop);

/* Messages queued and not yet sent to the database (shutdown waits for
 * them as for the store's jobs). */
size_t post_queued(void);

/* Free queued posts (shutdown, after the store failed its jobs). */
void post_module_free(void);

#endif
