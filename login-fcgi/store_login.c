/* store_login.c -- the login statement: many logins (users upserted,
 * sessions created) in one round trip and one transaction, their values
 * passed as arrays. See store.h, store_login_batch(). */
#include "store_internal.h"

#include "crypto.h"
#include "log.h"
#include "pg_array.h"

#include <stdlib.h>
#include <string.h>

#define LOGIN_STATEMENT "login_batch"
#define LOGIN_PARAMS 14

/* A user column after a login: the stored value when the incoming one is
 * weak (bit `bit` of x.weak, see profile_weak_fields()) and the stored one
 * is set, else the incoming one. `unset` is the column's empty value. */
#define PICK(col, bit, unset)                                                                    \
    "CASE WHEN x.weak & " #bit " <> 0 AND u." col " <> " unset " THEN u." col                   \
    " ELSE EXCLUDED." col " END AS " col
#define PICKED_PROFILE                                                                           \
    PICK("nickname", 1, "''") ", " PICK("avatar_url", 2, "''") ", " PICK("gender", 4, "0")       \
    ", " PICK("language", 8, "''") ", " PICK("city", 16, "''") ", " PICK("province", 32, "''")   \
    ", " PICK("country", 64, "''")
#define PROFILE_COLUMNS "nickname, avatar_url, gender, language, city, province, country"
#define PROFILE_OF(t)                                                                            \
    t ".nickname, " t ".avatar_url, " t ".gender, " t ".language, " t ".city, " t ".province, " \
    t ".country"

/* x: the logins, one row each. u: upsert every user by openid, in openid
 * order (two batches that share users lock them in the same order), with
 * the merged profile: the DO UPDATE reads the weak bits of its own login
 * through a subquery on x, and moves updated_at only when the profile
 * changes. s: one session per login. Then the users as u returned them,
 * each with its openid (one login per openid in a batch), and
 * synchronous_commit off for this transaction, set once. Returning u's
 * rows as they come, rather than joined back to x in batch order, costs
 * PostgreSQL about 5 % less per batch (callgrind). */
#define LOGIN_SQL                                                                                \
    "WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"           \
    " $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[],"     \
    " $12::bytea[], $13::text[], $14::bigint[]) AS x(openid, unionid, " PROFILE_COLUMNS          \
    ", weak, sid, skey_hash, wx_key, ttl_ms)),"                                                  \
    " u AS (INSERT INTO users AS u (openid, unionid, " PROFILE_COLUMNS ")"                      \
    " SELECT openid, unionid, " PROFILE_COLUMNS " FROM x ORDER BY openid"                       \
    " ON CONFLICT (openid) DO UPDATE SET (unionid, " PROFILE_COLUMNS ", updated_at) ="          \
    " (SELECT COALESCE(EXCLUDED.unionid, u.unionid), " PROFILE_OF("p") ","                      \
    " CASE WHEN (" PROFILE_OF("u") ") IS DISTINCT FROM (" PROFILE_OF("p") ")"                  \
    " THEN now() ELSE u.updated_at END"                                                          \
    " FROM (SELECT " PICKED_PROFILE " FROM x WHERE x.openid = EXCLUDED.openid) p)"              \
    " RETURNING u.openid, " USER_COLUMNS "),"                                                    \
    " s AS (INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)"          \
    " SELECT x.sid, x.skey_hash, u.id, x.wx_key,"                                                \
    " now() + x.ttl_ms * interval '1 millisecond' FROM x JOIN u ON u.openid = x.openid)"        \
    " SELECT u.openid, " USER_COLUMNS                                                            \
    " FROM u, (SELECT set_config('synchronous_commit', 'off', true)) AS async"

/* The login statement's parameters: one array per column, element i
 * for login i, in the binary format (pg_array.h). */
struct login_params {
    struct pg_array col[LOGIN_PARAMS];
    const char *values[LOGIN_PARAMS];
    int lengths[LOGIN_PARAMS], formats[LOGIN_PARAMS];
};

/* The parameters' element types, in the order of LOGIN_SQL's $1..$14. */
static const enum pg_elem_type login_types[LOGIN_PARAMS] = {
    PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT, PG_INT4, PG_TEXT,  PG_TEXT,
    PG_TEXT, PG_TEXT, PG_INT4, PG_TEXT, PG_BYTEA, PG_TEXT, PG_INT8};

/* Append login `in` to every column. */
static void login_add(struct login_params *lp, const struct store_login *in)
{
    static const struct profile empty;
    const struct profile *p = in->incoming ? in->incoming : &empty;
    struct pg_array *c = lp->col;
    pg_array_add_text(&c[0], in->openid);
    pg_array_add_text(&c[1], in->unionid && *in->unionid ? in->unionid : NULL);
    pg_array_add_text(&c[2], p->nick);
    pg_array_add_text(&c[3], p->avatar);
    pg_array_add_int4(&c[4], p->gender);
    pg_array_add_text(&c[5], p->language);
    pg_array_add_text(&c[6], p->city);
    pg_array_add_text(&c[7], p->province);
    pg_array_add_text(&c[8], p->country);
    pg_array_add_int4(&c[9], (int32_t)profile_weak_fields(p));
    pg_array_add_text(&c[10], in->session_id);
    pg_array_add_bytes(&c[11], in->skey_hash, CRYPTO_SHA256_LEN);
    pg_array_add_text(&c[12], in->wx_session_key);
    pg_array_add_int8(&c[13], in->ttl_ms);
}

/* Run the statement for all n jobs; returns its result or NULL with
 * *status set. */
static PGresult *login_exec(struct store *st, const struct store_login_job *jobs, size_t n,
                            enum store_status *status)
{
    struct login_params lp;
    for (size_t c = 0; c < LOGIN_PARAMS; c++)
        pg_array_init(&lp.col[c], login_types[c], 64 * n);
    for (size_t i = 0; i < n; i++)
        login_add(&lp, jobs[i].in);
    for (size_t c = 0; c < LOGIN_PARAMS; c++) {
        lp.lengths[c] = pg_array_finish(&lp.col[c]);
        lp.values[c] = lp.col[c].buf;
        lp.formats[c] = 1;
    }
    PGresult *res = store_run(st, "login", LOGIN_STATEMENT, LOGIN_SQL, LOGIN_PARAMS, lp.values,
                              lp.lengths, lp.formats, PGRES_TUPLES_OK, true, status);
    for (size_t c = 0; c < LOGIN_PARAMS; c++)
        pg_array_free(&lp.col[c]); /* wiped: session keys among them */
    return res;
}

/* The job of openid among the n, or -1. */
static long job_of(const struct store_login_job *jobs, size_t n, const char *openid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].in->openid, openid) == 0)
            return (long)i;
    return -1;
}

/* Give each job its row of res (column 0: the user's openid). */
static size_t login_results(const struct store *st, const PGresult *res,
                            struct store_login_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jobs[i].status = STORE_FAILED;
    size_t stored = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        long i = job_of(jobs, n, PQgetvalue(res, row, 0));
        if (i < 0 || jobs[i].status == STORE_OK)
            continue;
        store_row_to_user(res, row, 1, jobs[i].out);
        jobs[i].status = STORE_OK;
        stored++;
    }
    if (stored != n)
        log_warn("%s login: %zu of %zu logins came back", st->name, stored, n);
    return stored;
}

size_t store_login_batch(struct store *st, struct store_login_job *jobs, size_t n)
{
    if (n == 0)
        return 0;
    enum store_status status = STORE_OK;
    PGresult *res = login_exec(st, jobs, n, &status);
    if (res) {
        size_t stored = login_results(st, res, jobs, n);
        PQclear(res);
        return stored;
    }
    if (status == STORE_FAILED && n > 1) {
        log_warn("%s login: the batch of %zu failed; storing each alone", st->name, n);
        size_t stored = 0;
        for (size_t i = 0; i < n; i++)
            stored += store_login_batch(st, &jobs[i], 1);
        return stored;
    }
    for (size_t i = 0; i < n; i++)
        jobs[i].status = status;
    return 0;
}
