/* store_internal.h -- what store.c shares with store_login.c: the store
 * itself, running a statement on it, and reading a user row. Nothing
 * outside those two files includes this. */
#ifndef LOGIN_STORE_INTERNAL_H
#define LOGIN_STORE_INTERNAL_H

#include "store.h"

#include <libpq-fe.h>
#include <stdbool.h>

struct store {
    char *url;
    PGconn *conn;
    char name[16]; /* in log lines: "w3" (a worker's), "login1" (the login group's) */
    const char *prepared; /* name of the statement prepared on this connection */
};

/* The user columns every query returns, in the order store_row_to_user()
 * reads them. */
#define USER_COLUMNS "u.id, u.nickname, u.avatar_url, u.gender, u.language, u.city, u.province, u.country"

/* Run one statement expecting `want`. With a `name`, sql is prepared under
 * that name on first use on a connection (one name per store). When
 * `retry` and the connection turns out to be dead (a restarted server),
 * reconnect and run it once more. Returns the result (caller PQclear()s
 * it), or NULL with *status set (STORE_UNAVAILABLE: no connection;
 * STORE_FAILED: the statement failed, logged with `what`). */
PGresult *store_run(struct store *st, const char *what, const char *name, const char *sql, int n,
                    const char *const *values, const int *lengths, const int *formats,
                    ExecStatusType want, bool retry, enum store_status *status);

/* Read USER_COLUMNS of row `row` starting at column c into *u. */
void store_row_to_user(const PGresult *res, int row, int c, struct store_user *u);

#endif
