/* store.h -- the relay's asynchronous PostgreSQL access on the event loop:
 * one or more pipelined connections for queries and writes (the "writers":
 * posts go to the writer the caller picks, every other query to writer 0),
 * one for LISTEN, all reconnecting with backoff. Each query is a job whose callback runs on the
 * loop once its transaction has committed (the pipeline sync came back) or
 * failed. Strings handed to callbacks are borrowed for the call only. */
#ifndef RELAY_STORE_H
#define RELAY_STORE_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>

struct store_session {
    const char *session_id;
    long long user_id;
    const char *nickname, *avatar_url;
    long long expires_ms; /* wall clock */
    bool revoked;
};

struct store_room {
    long long room_id, last_seq;
    const char *epoch;
};

/* One message row. For posts, idx (1-based input index), duplicate and room
 * are set; for joins and fetches room is NULL. user_id 0: an announcement. */
struct store_row {
    int idx;
    bool duplicate, invalid; /* invalid: the sender's session is no longer valid */
    const char *room;
    long long seq, user_id;
    const char *nickname, *avatar_url;
    bool image;
    const char *content, *cid; /* cid NULL when absent */
    long long time_ms;
};

/* status: 0 found, 1 no such session, -1 database error. */
typedef void (*store_session_fn)(void *ctx, int status, const struct store_session *s);
/* status 0 ok (rows ascending by seq), -1 error. */
typedef void (*store_join_fn)(void *ctx, int status, const struct store_room *room,
                              const struct store_row *rows, size_t n);
typedef void (*store_rows_fn)(void *ctx, int status, const struct store_row *rows, size_t n);
typedef void (*store_value_fn)(void *ctx, int status, long long value);

/* What the LISTEN connection and connection state changes report. */
struct store_events {
    void (*notify)(const char *channel, const char *payload);
    void (*listen_up)(void); /* (re)subscribed: notifications may have been missed */
    void (*state)(bool up);  /* store_up() changed */
};

/* Most writer connections. */
#define STORE_MAX_WRITERS 16

/* Start connecting `writers` (1..STORE_MAX_WRITERS) pipelined connections
 * and the LISTEN connection to url. Returns 0 or -1 (logged). */
int store_init(struct loop *loop, const char *url, size_t writers,
               const struct store_events *events);

/* How many writer connections there are (what store_init got). */
size_t store_writers(void);

/* Fail pending jobs (their callbacks run with status -1), close both
 * connections and free everything. */
void store_shutdown(void);

/* true when every connection is up. */
bool store_up(void);

/* Jobs sent and not yet answered. */
size_t store_pending(void);

/* Look a session up by sha256(skey). Returns 0 (fn will be called), or -1
 * when the database is down (fn is not called). Same for every query. */
int store_session_lookup(const unsigned char hash[32], store_session_fn fn, void *ctx);

/* Join room `name`: creates it when missing and returns its counter, epoch
 * and the newest `limit` messages with seq > least(since, last_seq -
 * history) (since < 0: last_seq - history). */
int store_room_join(const char *name, long long since, long long history, long long limit,
                    store_join_fn fn, void *ctx);

/* Post n messages, each to its room (room_ids[i]), in one transaction (see
 * chat_post_batch_compact in sql/migrations/027) on writer connection `writer`
 * (< store_writers(); batches on one writer commit in the order sent): kinds are "text" or "image";
 * cids entries may be NULL; skey_hashes are the senders' sha256(skey),
 * checked in the same transaction. fn gets one row per input (idx 1..n);
 * seq 0: nothing stored or returned (invalid session). A fresh row (not
 * duplicate, not invalid) has content NULL: the caller has it. The
 * callback runs only after COMMIT (or with -1 when it failed). */
int store_post(size_t writer, size_t n, const long long *room_ids, const long long *user_ids,
               const char *const *kinds, const char *const *contents, const char *const *cids,
               const unsigned char (*skey_hashes)[32], store_rows_fn fn, void *ctx);

/* Messages of room_id with after < seq <= upto, ascending. */
int store_fetch(long long room_id, long long after, long long upto, store_rows_fn fn, void *ctx);

/* The room's last_seq. */
int store_room_last(long long room_id, store_value_fn fn, void *ctx);

/* pg_notify(channel, payload) for each payload, fire and forget. */
int store_notify(const char *channel, const char *const *payloads, size_t n);

/* The ids among ids[0..n) whose sessions ended (revoked, expired or gone):
 * fn(ctx, 0, ended, m), or fn(ctx, -1, NULL, 0) when the query failed. */
typedef void (*store_ids_fn)(void *ctx, int status, const char *const *ids, size_t n);
int store_sessions_ended(const char *const *ids, size_t n, store_ids_fn fn, void *ctx);

#endif
