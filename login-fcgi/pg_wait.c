/* pg_wait.c -- libpq's asynchronous calls waited for on the event loop
 * (see pg_wait.h). No client-side time limit on statements: the server's
 * statement_timeout bounds them (store.c sets it), as with PQexec. */
#include "pg_wait.h"

#include "db.h"
#include "loop.h"

#include <stdio.h>

/* Wait until conn's socket is ready for `events`, or timeout_ms. Returns
 * 1 when ready, 0 when the time ran out, -1 on failure. */
static int wait_socket(PGconn *conn, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = events};
    if (pfd.fd < 0)
        return -1;
    return loop_wait(&pfd, 1, timeout_ms) < 0 ? -1 : pfd.revents ? 1 : 0;
}

PGconn *pg_wait_connect(const char *url, const char *app, int timeout_s, char *err, size_t errlen)
{
    PGconn *conn = db_connect_start(url, app, err, errlen);
    if (!conn)
        return NULL;
    long long deadline = loop_now_ms() + timeout_s * 1000LL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        long long left = deadline - loop_now_ms();
        int ready = left > 0 ? wait_socket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                                           (int)left)
                             : 0;
        if (ready <= 0) {
            snprintf(err, errlen, "%s",
                     ready == 0 ? "timeout expired" : "cannot wait for the connection's socket");
            PQfinish(conn);
            return NULL;
        }
        st = PQconnectPoll(conn);
    }
    if (st == PGRES_POLLING_FAILED || PQsetnonblocking(conn, 1) != 0) {
        snprintf(err, errlen, "%s", db_error(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Send what libpq has queued. Returns 0, or -1 when the connection failed. */
static int flush(PGconn *conn)
{
    int rc;
    while ((rc = PQflush(conn)) == 1) {
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN | POLLOUT};
        if (pfd.fd < 0 || loop_wait(&pfd, 1, -1) < 0)
            return -1;
        if ((pfd.revents & POLLIN) && !PQconsumeInput(conn))
            return -1;
    }
    return rc;
}

/* The results of the command just sent, as PQexec() gives them. */
static PGresult *collect(PGconn *conn)
{
    if (flush(conn) < 0)
        return NULL;
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(conn)) {
            if (wait_socket(conn, POLLIN, -1) < 0 || !PQconsumeInput(conn)) {
                PQclear(last);
                return NULL;
            }
        }
        PGresult *res = PQgetResult(conn);
        if (!res)
            return last;
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(res); /* the first error is the one to report */
        } else {
            PQclear(last);
            last = res;
        }
    }
}

PGresult *pg_wait_exec(PGconn *conn, const char *sql)
{
    return PQsendQuery(conn, sql) ? collect(conn) : NULL;
}

PGresult *pg_wait_prepare(PGconn *conn, const char *name, const char *sql, int n)
{
    return PQsendPrepare(conn, name, sql, n, NULL) ? collect(conn) : NULL;
}

PGresult *pg_wait_exec_prepared(PGconn *conn, const char *name, int n,
                                const char *const *values, const int *lengths,
                                const int *formats)
{
    return PQsendQueryPrepared(conn, name, n, values, lengths, formats, 0) ? collect(conn)
                                                                              : NULL;
}

PGresult *pg_wait_exec_params(PGconn *conn, const char *sql, int n, const char *const *values,
                              const int *lengths, const int *formats)
{
    return PQsendQueryParams(conn, sql, n, NULL, values, lengths, formats, 0) ? collect(conn)
                                                                                : NULL;
}
