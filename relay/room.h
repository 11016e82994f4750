/* room.h -- rooms of this relay: membership, the join (snapshot + replay),
 * batching of posted messages into one transaction per room, and fan-out in
 * id order with no gap and no duplicate per connection (rows written here,
 * by other relays or by psql). */
#ifndef RELAY_ROOM_H
#define RELAY_ROOM_H

#include "conn.h"
#include "msg.h"

/* Free every room (after every connection is gone). */
void room_module_free(void);

/* Put c (CONN_JOINING, room_name/since/epoch set) into its room and start
 * the join query. Returns 0, or -1 when the database is unavailable (c is
 * then not in a room). */
int room_join(struct conn *c);

/* Take c out of its room (idempotent); others get a leave event if c was
 * open in it. */
void room_leave(struct conn *c);

/* Queue a validated message of c for the next batch (post.c; copies what
 * it needs). Returns 0, or -1 when it cannot be queued. */
int room_post(struct conn *c, const struct msg_input *in);

/* --- for post.c -------------------------------------------------------------- */

struct store_row;

/* Keep r alive (a queued post refers to it) / drop that reference (r may
 * be freed when nothing else refers to it). */
struct room *room_ref(struct room *r);
void room_unref(struct room *r);

/* The room's database id (the room is initialized). */
long long room_id(const struct room *r);

/* One message of ours for r is going into a batch / that batch is done
 * (committed or failed): committed rows taken with room_committed() are
 * then delivered in id order. While any is in flight, ids announced by
 * NOTIFY are awaited rather than fetched (they are most likely ours). */
void room_batch_begin(struct room *r);
void room_batch_end(struct room *r);

/* A committed row of ours (fresh, not duplicate). Takes ownership of
 * content and cid (malloc'ed; cid may be NULL). Rows of one batch come in
 * id order. */
void room_committed(struct room *r, const struct store_row *row, char *content, char *cid);

/* Send a stored message (a resent cid) to c alone, as type "user". */
void room_send_stored(struct room *r, struct conn *c, const struct store_row *row);

/* A chat_messages notification: {"room_id","room","from","to"}. */
void room_notify_messages(const char *payload);

/* After the LISTEN connection came back: re-read every room's counter. */
void room_resync(void);

/* Periodic: retry fetches that failed. */
void room_tick(void);

/* The online count of a room (this relay's open members + other relays'). */
long long room_online_by_name(const char *name);

/* Other relays' count for `name` changed from before to after. */
void room_remote_changed(const char *name, long long before, long long after);

/* Call fn for each room with open members here. */
void room_foreach_local(void (*fn)(const char *name, long long count));

#endif
