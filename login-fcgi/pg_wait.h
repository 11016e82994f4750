/* pg_wait.h -- libpq calls for a worker coroutine: they send with libpq's
 * asynchronous API and wait for the socket on the event loop (loop.h), so
 * to their caller they look like the blocking calls they replace
 * (PQconnectdb, PQexec, PQprepare, PQexecPrepared, PQexecParams) while the
 * loop runs the other workers. Results and errors are as from those:
 * the last result (the first error wins), or NULL with the reason in
 * PQerrorMessage(). */
#ifndef LOGIN_PG_WAIT_H
#define LOGIN_PG_WAIT_H

#include <libpq-fe.h>
#include <stddef.h>

/* Connect to the database `url` as application `app` within timeout_s
 * seconds. Returns the connection (non-blocking mode), or NULL with the
 * reason in err. */
PGconn *pg_wait_connect(const char *url, const char *app, int timeout_s, char *err, size_t errlen);

PGresult *pg_wait_exec(PGconn *conn, const char *sql);

PGresult *pg_wait_prepare(PGconn *conn, const char *name, const char *sql, int n);

PGresult *pg_wait_exec_prepared(PGconn *conn, const char *name, int n,
                                const char *const *values, const int *lengths,
                                const int *formats);

PGresult *pg_wait_exec_params(PGconn *conn, const char *sql, int n, const char *const *values,
                              const int *lengths, const int *formats);

#endif
