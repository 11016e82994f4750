/* store_login.c -- the login statement: many logins (users upserted,
 * sessions created) in one round trip and one transaction, their values
 * passed as arrays. See store.h, store_login_batch(). */
#include "store_internal.h"

#include "crypto.h"
#include "log.h"
#include "pg_array.h"
#include "util.h"

#include <stdio.h>
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
    " $12::text[], $13::text[], $14::bigint[]) AS x(openid, unionid, " PROFILE_COLUMNS          \
    ", weak, sid, skey_hex, wx_key, ttl_ms)),"                                                   \
    " u AS (INSERT INTO users AS u (openid, unionid, " PROFILE_COLUMNS ")"                      \
    " SELECT openid, unionid, " PROFILE_COLUMNS " FROM x ORDER BY openid"                       \
    " ON CONFLICT (openid) DO UPDATE SET (unionid, " PROFILE_COLUMNS ", updated_at) ="          \
    " (SELECT COALESCE(EXCLUDED.unionid, u.unionid), " PROFILE_OF("p") ","                      \
    " CASE WHEN (" PROFILE_OF("u") ") IS DISTINCT FROM (" PROFILE_OF("p") ")"                  \
    " THEN now() ELSE u.updated_at END"                                                          \
    " FROM (SELECT " PICKED_PROFILE " FROM x WHERE x.openid = EXCLUDED.openid) p)"              \
    " RETURNING u.openid, " USER_COLUMNS "),"                                                    \
    " s AS (INSERT INTO sessions (id, skey_hash, user_id, wx_session_key, expires_at)"          \
    " SELECT x.sid, decode(x.skey_hex, 'hex'), u.id, x.wx_key,"                                  \
    " now() + x.ttl_ms * interval '1 millisecond' FROM x JOIN u ON u.openid = x.openid)"        \
    " SELECT u.openid, " USER_COLUMNS                                                            \
    " FROM u, (SELECT set_config('synchronous_commit', 'off', true)) AS async"

/* The numbers and hashes of one login, formatted for its array elements. */
struct login_text {
    char gender[12], weak[12], ttl[24];
    char skey_hex[2 * CRYPTO_SHA256_LEN + 1];
};

/* Fill column c's n elements (items[c * n + i]) from the jobs. */
static void login_columns(const struct store_login_job *jobs, size_t n, struct login_text *txt,
                          const char **items)
{
    static const struct profile empty;
    for (size_t i = 0; i < n; i++) {
        const struct store_login *in = jobs[i].in;
        const struct profile *p = in->incoming ? in->incoming : &empty;
        struct login_text *t = &txt[i];
        snprintf(t->gender, sizeof(t->gender), "%d", p->gender);
        snprintf(t->weak, sizeof(t->weak), "%u", profile_weak_fields(p));
        snprintf(t->ttl, sizeof(t->ttl), "%lld", in->ttl_ms);
        hex_encode(in->skey_hash, CRYPTO_SHA256_LEN, t->skey_hex);
        const char *unionid = in->unionid && *in->unionid ? in->unionid : NULL;
        const char *row[LOGIN_PARAMS] = {in->openid, unionid,     p->nick,        p->avatar,
                                         t->gender,  p->language, p->city,        p->province,
                                         p->country, t->weak,     in->session_id, t->skey_hex,
                                         in->wx_session_key, t->ttl};
        for (size_t c = 0; c < LOGIN_PARAMS; c++)
            items[c * n + i] = row[c];
    }
}

/* Run the statement for all n jobs; returns its result or NULL with
 * *status set. */
static PGresult *login_exec(struct store *st, const struct store_login_job *jobs, size_t n,
                            enum store_status *status)
{
    struct login_text *txt = xcalloc(n, sizeof(*txt));
    const char **items = xcalloc(LOGIN_PARAMS * n, sizeof(*items));
    login_columns(jobs, n, txt, items);
    char *arrays[LOGIN_PARAMS];
    for (size_t c = 0; c < LOGIN_PARAMS; c++)
        arrays[c] = pg_array_literal(items + c * n, n);
    PGresult *res = store_run(st, "login", LOGIN_STATEMENT, LOGIN_SQL, LOGIN_PARAMS,
                              (const char *const *)arrays, NULL, NULL, PGRES_TUPLES_OK, true,
                              status);
    for (size_t c = 0; c < LOGIN_PARAMS; c++) {
        explicit_bzero(arrays[c], strlen(arrays[c])); /* session keys among them */
        free(arrays[c]);
    }
    free(items);
    explicit_bzero(txt, n * sizeof(*txt));
    free(txt);
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
