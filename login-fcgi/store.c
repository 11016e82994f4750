/* store.c -- login-fcgi's data access over libpq, one connection per
 * store (one per worker, and the login group's own). The calls wait on the
 * event loop (pg_wait.h): they return when the statement is done, and the
 * other workers run meanwhile. */
#include "store.h"
#include "store_internal.h"

#include "db.h"
#include "log.h"
#include "pg_wait.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_CONNECT_TIMEOUT_S 2
#define STORE_LOCK_TIMEOUT "1s"

struct store *store_new(const char *url, const char *name)
{
    struct store *st = xcalloc(1, sizeof(*st));
    st->url = xstrdup(url);
    snprintf(st->name, sizeof(st->name), "%s", name);
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    if (st->conn)
        PQfinish(st->conn);
    free(st->url);
    free(st);
}

static void store_disconnect(struct store *st)
{
    if (st->conn) {
        PQfinish(st->conn);
        st->conn = NULL;
    }
}

enum store_status store_connect(struct store *st)
{
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK)
        return STORE_OK;
    store_disconnect(st);
    char err[256];
    st->conn = pg_wait_connect(st->url, "login-fcgi", STORE_CONNECT_TIMEOUT_S, err, sizeof(err));
    if (!st->conn) {
        log_warn("%s database unavailable: %s", st->name, err);
        return STORE_UNAVAILABLE;
    }
    st->prepared = NULL;
    /* A row lock held elsewhere (a DBA's open transaction) must not hold
     * up the logins queued behind a batch for long: past the lock timeout
     * the batch fails and its logins are stored one by one, and only the
     * one that needs the locked row fails (login_group.h). */
    PGresult *res = pg_wait_exec(
        st->conn, "SET statement_timeout = '10s'; SET lock_timeout = '" STORE_LOCK_TIMEOUT "'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("%s SET statement_timeout, lock_timeout: %s", st->name, db_result_error(res));
    PQclear(res);
    log_info("%s connected to the database", st->name);
    return STORE_OK;
}

/* Whether a failed result means the connection is gone. An error made by
 * libpq itself carries no SQLSTATE (every server error has one): after an
 * immediate shutdown of the server it reports "server closed the connection
 * unexpectedly" while PQstatus() still says CONNECTION_OK. */
static bool connection_lost(const struct store *st, const PGresult *res)
{
    return PQstatus(st->conn) != CONNECTION_OK || !res ||
           (PQresultStatus(res) == PGRES_FATAL_ERROR &&
            !PQresultErrorField(res, PG_DIAG_SQLSTATE)) ||
           db_result_sqlstate_is(res, "08") || db_result_sqlstate_is(res, "57P");
}

/* Run `sql` as the statement prepared under `name` (preparing it first on
 * a new connection). */
static PGresult *exec_prepared(struct store *st, const char *name, const char *sql, int n,
                               const char *const *values, const int *lengths,
                               const int *formats)
{
    if (!st->prepared || strcmp(st->prepared, name) != 0) {
        PGresult *res = pg_wait_prepare(st->conn, name, sql, n);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res; /* the caller logs and classifies it */
        PQclear(res);
        st->prepared = name;
    }
    return pg_wait_exec_prepared(st->conn, name, n, values, lengths, formats);
}

PGresult *store_run(struct store *st, const char *what, const char *name, const char *sql, int n,
                    const char *const *values, const int *lengths, const int *formats,
                    ExecStatusType want, bool retry, enum store_status *status)
{
    for (int attempt = 0;; attempt++) {
        if (store_connect(st) != STORE_OK) {
            *status = STORE_UNAVAILABLE;
            return NULL;
        }
        PGresult *res = name ? exec_prepared(st, name, sql, n, values, lengths, formats)
                             : pg_wait_exec_params(st->conn, sql, n, values, lengths, formats);
        if (PQresultStatus(res) == want)
            return res;
        bool lost = connection_lost(st, res);
        log_warn("%s %s failed: %s", st->name, what,
                 res ? db_result_error(res) : db_error(st->conn));
        PQclear(res);
        if (!lost) {
            *status = STORE_FAILED;
            return NULL;
        }
        store_disconnect(st);
        if (!retry || attempt > 0) {
            *status = STORE_UNAVAILABLE;
            return NULL;
        }
    }
}

/* store_run() of a statement that is not prepared. */
static PGresult *store_exec(struct store *st, const char *what, const char *sql, int n,
                            const char *const *values, const int *lengths, const int *formats,
                            ExecStatusType want, bool retry, enum store_status *status)
{
    return store_run(st, what, NULL, sql, n, values, lengths, formats, want, retry, status);
}

/* Run a statement that returns no rows. */
static enum store_status store_command(struct store *st, const char *what, const char *sql, int n,
                                       const char *const *values, bool retry)
{
    enum store_status status = STORE_OK;
    PGresult *res = store_exec(st, what, sql, n, values, NULL, NULL, PGRES_COMMAND_OK, retry,
                               &status);
    PQclear(res);
    return status;
}

static void copy_col(const PGresult *res, int row, int col, char *out, size_t cap)
{
    snprintf(out, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

void store_row_to_user(const PGresult *res, int row, int c, struct store_user *u)
{
    struct profile *p = &u->profile;
    u->uid = strtoll(PQgetvalue(res, row, c), NULL, 10);
    copy_col(res, row, c + 1, p->nick, sizeof(p->nick));
    copy_col(res, row, c + 2, p->avatar, sizeof(p->avatar));
    p->gender = atoi(PQgetvalue(res, row, c + 3));
    copy_col(res, row, c + 4, p->language, sizeof(p->language));
    copy_col(res, row, c + 5, p->city, sizeof(p->city));
    copy_col(res, row, c + 6, p->province, sizeof(p->province));
    copy_col(res, row, c + 7, p->country, sizeof(p->country));
}

enum store_status store_ping(struct store *st)
{
    enum store_status status = STORE_OK;
    PGresult *res = store_exec(st, "health check", "SELECT 1", 0, NULL, NULL, NULL,
                               PGRES_TUPLES_OK, true, &status);
    if (!res)
        return STORE_UNAVAILABLE;
    PQclear(res);
    return STORE_OK;
}

enum store_status store_session_find(struct store *st, const unsigned char *skey_hash,
                                     struct store_session *s, struct store_user *u)
{
    const char *values[] = {(const char *)skey_hash};
    const int lengths[] = {CRYPTO_SHA256_LEN}, formats[] = {1};
    enum store_status status = STORE_OK;
    PGresult *res = store_exec(
        st, "session lookup",
        "SELECT s.id, s.last_seen_at < now() - interval '1 minute', " USER_COLUMNS
        " FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.skey_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()",
        1, values, lengths, formats, PGRES_TUPLES_OK, true, &status);
    if (!res)
        return status;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    copy_col(res, 0, 0, s->id, sizeof(s->id));
    s->touch_due = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    store_row_to_user(res, 0, 2, u);
    PQclear(res);
    return STORE_OK;
}

enum store_status store_session_touch(struct store *st, const char *session_id)
{
    return store_command(st, "session touch",
                         "UPDATE sessions SET last_seen_at = now() "
                         "WHERE id = $1 AND last_seen_at < now() - interval '1 minute'",
                         1, (const char *const[]){session_id}, true);
}

enum store_status store_session_revoke(struct store *st, const char *session_id)
{
    return store_command(st, "session revoke",
                         "UPDATE sessions SET revoked_at = now() "
                         "WHERE id = $1 AND revoked_at IS NULL",
                         1, (const char *const[]){session_id}, true);
}

enum store_status store_user_update(struct store *st, long long uid, const char *nick,
                                    const char *avatar, struct store_user *out)
{
    char uid_text[24];
    snprintf(uid_text, sizeof(uid_text), "%lld", uid);
    const char *values[] = {uid_text, nick, avatar};
    enum store_status status = STORE_OK;
    PGresult *res = store_exec(
        st, "profile update",
        "UPDATE users AS u SET nickname = COALESCE($2, u.nickname), "
        "avatar_url = COALESCE($3, u.avatar_url), updated_at = now() "
        "WHERE u.id = $1 RETURNING " USER_COLUMNS,
        3, values, NULL, NULL, PGRES_TUPLES_OK, true, &status);
    if (!res)
        return status;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_NOT_FOUND;
    }
    store_row_to_user(res, 0, 0, out);
    PQclear(res);
    return STORE_OK;
}
