/* post.h -- batching of posted messages: everything received in a loop
 * turn, across the rooms of one writer connection (room id mod
 * RELAY_DB_WRITERS), goes to PostgreSQL as one transaction
 * (chat_post_batch), with up to POST_PIPELINE batches in each writer's
 * pipeline, so
 * the commit's fsync is paid once per batch rather than per message or per
 * room. Senders hear back (echo, duplicate, error) only after COMMIT. */
#ifndef RELAY_POST_H
#define RELAY_POST_H

#include "conn.h"
#include "msg.h"

struct room;

/* Queue a validated message of c (open in room r) for the next batch;
 * copies what it needs and holds a reference on r until the batch is done.
 * Returns 0, or -1 when the queue is full. */
int post_queue(struct conn *c, struct room *r, const struct msg_input *in);

/* Send a batch when messages wait and the pipeline has room (once per
 * loop turn, before sleeping). */
void post_before_sleep(void);

/* Free queued posts (shutdown, after the store failed its jobs). */
void post_module_free(void);

#endif
