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

/* Queue a validated message of c for the room's next batch (copies what it
 * needs). Returns 0, or -1 when it cannot be queued. */
int room_post(struct conn *c, const struct msg_input *in);

/* Send one batch per room with queued messages (once per loop turn). */
void room_before_sleep(void);

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
