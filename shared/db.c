/* db.c -- PostgreSQL connections and loggable error texts. */
#include "db.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char db_errbuf[512];

/* Copy the first line of msg into the thread's error buffer. */
static const char *first_line(const char *msg)
{
    if (!msg || !*msg)
        msg = "unknown error";
    size_t n = strcspn(msg, "\n");
    if (n >= sizeof(db_errbuf))
        n = sizeof(db_errbuf) - 1;
    memcpy(db_errbuf, msg, n);
    db_errbuf[n] = '\0';
    return db_errbuf;
}

PGconn *db_connect_start(const char *url, const char *app, char *err, size_t errlen)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {url, app, NULL};
    PGconn *conn = PQconnectStartParams(keys, values, 1);
    if (!conn) {
        snprintf(err, errlen, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
        snprintf(err, errlen, "%s", db_error(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

const char *db_error(const PGconn *conn)
{
    return first_line(conn ? PQerrorMessage(conn) : NULL);
}

const char *db_result_error(const PGresult *res)
{
    return first_line(res ? PQresultErrorMessage(res) : NULL);
}

int db_result_sqlstate_is(const PGresult *res, const char *sqlstate_prefix)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strncmp(state, sqlstate_prefix, strlen(sqlstate_prefix)) == 0;
}
