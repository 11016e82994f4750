/* store_query.c -- the relay's queries: the SQL of each store_* request
 * (session lookup, room join, post batch, fetch, room counter, notify), the
 * decoding of their results into store.h's structs, and the binary arrays
 * (pg_array.h) their parameters need. The SQL is in one table,
 * store_statements[], which store.c prepares on every query connection. Jobs are sent through
 * store.c's pipeline (store_job.h). PGresult values never leave store.c
 * and this file. */
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "pg_array.h"
#include "post_answer.h"
#include "store.h"
#include "store_job.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the statements ------------------------------------------------------ */

const struct store_statement store_statements[STMT_COUNT] = {
    [STMT_SESSION_LOOKUP] = {"relay_session_lookup",
                             "SELECT session_id, user_id, nickname, avatar_url, "
                             "(extract(epoch FROM expires_at) * 1000)::bigint, revoked "
                             "FROM chat_session_lookup($1::bytea)",
                             1, false},
    [STMT_ROOM_JOIN] = {"relay_room_join",
                        "SELECT * FROM chat_room_join($1, $2::bigint, $3::bigint, $4::bigint)", 4,
                        false},
    [STMT_POST_BATCH] = {"relay_post_batch",
                         "SELECT * FROM chat_post_batch_compact($1::bigint[], $2::bigint[], "
                         "$3::text[], $4::text[], $5::text[], $6::bytea[])",
                         6, true},
    [STMT_FETCH] = {"relay_fetch",
                    "SELECT m.seq, m.user_id, u.nickname, u.avatar_url, m.kind, m.content, m.cid, "
                    "(extract(epoch FROM m.created_at) * 1000)::bigint "
                    "FROM messages m LEFT JOIN users u ON u.id = m.user_id "
                    "WHERE m.room_id = $1::bigint AND m.seq > $2::bigint "
                    "AND m.seq <= $3::bigint ORDER BY m.seq",
                    3, false},
    [STMT_ROOM_LAST] = {"relay_room_last", "SELECT last_seq FROM rooms WHERE id = $1::bigint", 1,
                        false},
    [STMT_SESSIONS_ENDED] = {"relay_sessions_ended",
                             "SELECT * FROM chat_sessions_ended($1::text[])", 1, true},
    [STMT_NOTIFY] = {"relay_notify", "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", 2,
                     true},
};

/* --- result decoding ------------------------------------------------------ */

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static long long num(const PGresult *r, int row, int col)
{
    const char *v = val(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static bool res_ok(const PGresult *r, const char *what)
{
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return true;
    if (r)
        log_error("db: %s failed: %s", what, db_result_error(r));
    return false;
}

/* Decode columns from `col`: seq, user_id, nickname, avatar_url, kind,
 * content, cid, time_ms. */
static void decode_row(const PGresult *r, int row, int col, struct store_row *out)
{
    out->seq = num(r, row, col);
    out->user_id = num(r, row, col + 1);
    out->nickname = val(r, row, col + 2) ? val(r, row, col + 2) : "";
    out->avatar_url = val(r, row, col + 3) ? val(r, row, col + 3) : "";
    const char *kind = val(r, row, col + 4);
    out->image = kind && strcmp(kind, "image") == 0;
    out->content = val(r, row, col + 5) ? val(r, row, col + 5) : "";
    out->cid = val(r, row, col + 6);
    out->time_ms = num(r, row, col + 7);
}

static void done_session(struct job *j, PGresult *r)
{
    store_session_fn fn = (store_session_fn)j->fn;
    if (!res_ok(r, "session lookup")) {
        fn(j->ctx, -1, NULL);
        return;
    }
    if (PQntuples(r) < 1) {
        fn(j->ctx, 1, NULL);
        return;
    }
    struct store_session s = {
        .session_id = val(r, 0, 0) ? val(r, 0, 0) : "",
        .user_id = num(r, 0, 1),
        .nickname = val(r, 0, 2) ? val(r, 0, 2) : "",
        .avatar_url = val(r, 0, 3) ? val(r, 0, 3) : "",
        .expires_ms = num(r, 0, 4),
        .revoked = val(r, 0, 5) && val(r, 0, 5)[0] == 't',
    };
    fn(j->ctx, 0, &s);
}

int store_session_lookup(const unsigned char hash[32], store_session_fn fn, void *ctx)
{
    char hex[2 + 64 + 1] = "\\x";
    hex_encode(hash, 32, hex + 2);
    const char *values[] = {hex};
    return job_send(STMT_SESSION_LOOKUP, values, NULL, done_session, (void *)fn, ctx);
}

static void done_join(struct job *j, PGresult *r)
{
    store_join_fn fn = (store_join_fn)j->fn;
    if (!res_ok(r, "room join") || PQntuples(r) < 1) {
        fn(j->ctx, -1, NULL, NULL, 0);
        return;
    }
    struct store_room room = {num(r, 0, 0), num(r, 0, 1), val(r, 0, 2) ? val(r, 0, 2) : ""};
    int n = PQntuples(r);
    struct store_row *rows = xcalloc((size_t)n, sizeof(*rows));
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (val(r, i, 3))
            decode_row(r, i, 3, &rows[k++]);
    fn(j->ctx, 0, &room, rows, k);
    free(rows);
}

int store_room_join(const char *name, long long since, long long history, long long limit,
                    store_join_fn fn, void *ctx)
{
    char s[24], h[24], l[24];
    snprintf(s, sizeof(s), "%lld", since);
    snprintf(h, sizeof(h), "%lld", history);
    snprintf(l, sizeof(l), "%lld", limit);
    const char *values[] = {name, s, h, l};
    return job_send(STMT_ROOM_JOIN, values, NULL, done_join, (void *)fn, ctx);
}

/* Rows of a fetch (col 0) or per-message rows of a post (col 4) to fn. */
static void answer_rows(store_rows_fn fn, void *ctx, const PGresult *r, int col, const char *what)
{
    if (!res_ok(r, what)) {
        fn(ctx, -1, NULL, 0);
        return;
    }
    int n = PQntuples(r);
    struct store_row *rows = xcalloc((size_t)n + 1, sizeof(*rows));
    for (int i = 0; i < n; i++) {
        if (col > 0) {
            rows[i].idx = (int)num(r, i, 0);
            rows[i].duplicate = val(r, i, 1) && val(r, i, 1)[0] == 't';
            rows[i].invalid = val(r, i, 2) && val(r, i, 2)[0] == 't';
            rows[i].room = val(r, i, 3);
        }
        decode_row(r, i, col, &rows[i]);
        if (col > 0 && !rows[i].duplicate && !val(r, i, col + 5))
            rows[i].content = NULL; /* a fresh post: the caller has the content */
    }
    fn(ctx, 0, rows, (size_t)n);
    free(rows);
}

/* A batch in flight: what chat_post_batch_compact's short answer needs
 * (the rooms, senders and kinds sent) and the caller's callback. */
struct post_call {
    store_rows_fn fn;
    void *ctx;
    size_t n;
    struct post_answer_msg msgs[];
};

/* The short answer (post_answer.h): its room rows (idx -1: room_id in
 * column 12, first number in seq) and sender rows (idx 0) expanded into
 * one row per message of the batch. Returns 0 or -1 (logged). */
static int expand_short_answer(const PGresult *r, const struct post_call *call,
                               struct store_row *rows)
{
    int n = PQntuples(r);
    struct post_answer_room *rooms = xcalloc((size_t)n, sizeof(*rooms));
    struct post_answer_sender *senders = xcalloc((size_t)n, sizeof(*senders));
    size_t nrooms = 0, nsenders = 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        long long idx = num(r, i, 0);
        if (idx == -1)
            rooms[nrooms++] = (struct post_answer_room){num(r, i, 12), num(r, i, 4)};
        else if (idx == 0)
            senders[nsenders++] =
                (struct post_answer_sender){num(r, i, 5), val(r, i, 6), val(r, i, 7)};
        else
            rc = -1;
    }
    if (rc == 0)
        rc = post_answer_expand(call->msgs, call->n, rooms, nrooms, senders, nsenders,
                                num(r, 0, 11), rows);
    if (rc < 0)
        log_error("db: post: an answer of %d rows that does not cover the batch of %zu messages", n,
                  call->n);
    free(rooms);
    free(senders);
    return rc;
}

static void done_post(struct job *j, PGresult *r)
{
    struct post_call *call = j->ctx;
    if (!res_ok(r, "post")) {
        call->fn(call->ctx, -1, NULL, 0);
    } else if (PQntuples(r) > 0 && num(r, 0, 0) < 1) {
        struct store_row *rows = xcalloc(call->n, sizeof(*rows));
        if (expand_short_answer(r, call, rows) == 0)
            call->fn(call->ctx, 0, rows, call->n);
        else
            call->fn(call->ctx, -1, NULL, 0);
        free(rows);
    } else {
        answer_rows(call->fn, call->ctx, r, 4, "post"); /* one row per message */
    }
    free(call);
}

static void done_fetch(struct job *j, PGresult *r)
{
    answer_rows((store_rows_fn)j->fn, j->ctx, r, 0, "fetch");
}

int store_post(size_t writer, size_t n, const long long *room_ids, const long long *user_ids,
               const char *const *kinds, const char *const *contents, const char *const *cids,
               const unsigned char (*skey_hashes)[32], store_rows_fn fn, void *ctx)
{
    struct pg_array a[6];
    pg_array_init(&a[0], PG_INT8, 12 * n);
    pg_array_init(&a[1], PG_INT8, 12 * n);
    pg_array_init(&a[2], PG_TEXT, 10 * n);
    pg_array_init(&a[3], PG_TEXT, 128 * n);
    pg_array_init(&a[4], PG_TEXT, 4 * n);
    pg_array_init(&a[5], PG_BYTEA, 36 * n);
    for (size_t i = 0; i < n; i++) {
        pg_array_add_int8(&a[0], room_ids[i]);
        pg_array_add_int8(&a[1], user_ids[i]);
        pg_array_add_text(&a[2], kinds[i]);
        pg_array_add_text(&a[3], contents[i]);
        pg_array_add_text(&a[4], cids[i]);
        pg_array_add_bytes(&a[5], skey_hashes[i], 32);
    }
    struct post_call *call = xcalloc(1, sizeof(*call) + n * sizeof(call->msgs[0]));
    *call = (struct post_call){.fn = fn, .ctx = ctx, .n = n};
    for (size_t i = 0; i < n; i++)
        call->msgs[i] =
            (struct post_answer_msg){room_ids[i], user_ids[i], strcmp(kinds[i], "image") == 0};
    const char *values[6];
    int lengths[6];
    for (size_t c = 0; c < 6; c++) {
        lengths[c] = pg_array_finish(&a[c]);
        values[c] = a[c].buf;
    }
    int rc = job_send_writer(writer, STMT_POST_BATCH, values, lengths, done_post, (void *)fn, call);
    if (rc < 0)
        free(call); /* done_post will not run */
    for (size_t c = 0; c < 6; c++)
        pg_array_free(&a[c]);
    return rc;
}

int store_fetch(long long room_id, long long after, long long upto, store_rows_fn fn, void *ctx)
{
    char r[24], a[24], u[24];
    snprintf(r, sizeof(r), "%lld", room_id);
    snprintf(a, sizeof(a), "%lld", after);
    snprintf(u, sizeof(u), "%lld", upto);
    const char *values[] = {r, a, u};
    return job_send(STMT_FETCH, values, NULL, done_fetch, (void *)fn, ctx);
}

static void done_value(struct job *j, PGresult *r)
{
    store_value_fn fn = (store_value_fn)j->fn;
    if (!res_ok(r, "room counter") || PQntuples(r) < 1)
        fn(j->ctx, -1, 0);
    else
        fn(j->ctx, 0, num(r, 0, 0));
}

int store_room_last(long long room_id, store_value_fn fn, void *ctx)
{
    char r[24];
    snprintf(r, sizeof(r), "%lld", room_id);
    const char *values[] = {r};
    return job_send(STMT_ROOM_LAST, values, NULL, done_value, (void *)fn, ctx);
}

static void done_ended(struct job *j, PGresult *r)
{
    store_ids_fn fn = (store_ids_fn)j->fn;
    if (!res_ok(r, "sessions ended")) {
        fn(j->ctx, -1, NULL, 0);
        return;
    }
    size_t n = (size_t)PQntuples(r);
    const char **ids = xcalloc(n + 1, sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = val(r, (int)i, 0);
    fn(j->ctx, 0, ids, n);
    free(ids);
}

int store_sessions_ended(const char *const *ids, size_t n, store_ids_fn fn, void *ctx)
{
    struct pg_array arr;
    pg_array_init(&arr, PG_TEXT, 36 * n);
    for (size_t i = 0; i < n; i++)
        pg_array_add_text(&arr, ids[i]);
    const char *values[] = {arr.buf};
    const int lengths[] = {pg_array_finish(&arr)};
    int rc = job_send(STMT_SESSIONS_ENDED, values, lengths, done_ended, (void *)fn, ctx);
    pg_array_free(&arr);
    return rc;
}

static void done_notify(struct job *j, PGresult *r)
{
    (void)j;
    res_ok(r, "notify");
}

int store_notify(const char *channel, const char *const *payloads, size_t n)
{
    if (n == 0)
        return 0;
    struct pg_array arr;
    pg_array_init(&arr, PG_TEXT, 64 * n);
    for (size_t i = 0; i < n; i++)
        pg_array_add_text(&arr, payloads[i]);
    const char *values[] = {channel, arr.buf};
    const int lengths[] = {(int)strlen(channel), pg_array_finish(&arr)};
    int rc = job_send(STMT_NOTIFY, values, lengths, done_notify, NULL, NULL);
    pg_array_free(&arr);
    return rc;
}
