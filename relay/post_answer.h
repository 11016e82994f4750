/* post_answer.h -- the short answer of chat_post_batch_compact (migration
 * 027) turned into the answer the relay works with: one store_row per
 * message of the batch. On its fast path the function answers one row per
 * room (the number of the room's first message in the batch) and one per
 * sender (name and avatar); the messages of a room are numbered from there
 * in batch order, as the function numbered them. No database types here,
 * so the unit tests call it directly. */
#ifndef RELAY_POST_ANSWER_H
#define RELAY_POST_ANSWER_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* A message of the batch, as sent. */
struct post_answer_msg {
    long long room_id, user_id;
    bool image;
};

/* A room row: next_seq is first the number of the room's first message in
 * the batch, then advanced by post_answer_expand. */
struct post_answer_room {
    long long room_id, next_seq;
};

/* A sender row. The strings are borrowed (from the database result). */
struct post_answer_sender {
    long long user_id;
    const char *nickname, *avatar_url;
};

/* Fill rows[i] for msgs[i], i < n: idx i + 1, fresh (not duplicate, not
 * invalid), numbered from its room's row, with its sender's name and
 * avatar ("" for a sender without a row), time_ms, and room, content and
 * cid NULL (the caller has them). Sorts rooms and senders. Returns 0, or
 * -1 when a message's room has no row or a room row is repeated (rows are
 * then unspecified). */
int post_answer_expand(const struct post_answer_msg *msgs, size_t n, struct post_answer_room *rooms,
                       size_t nrooms, struct post_answer_sender *senders, size_t nsenders,
                       long long time_ms, struct store_row *rows);

#endif
