/* db.h -- connecting to PostgreSQL and reporting its errors. Each program
 * keeps its own queries in its own data-access file; PGresult values never
 * leave those files. */
#ifndef SHARED_DB_H
#define SHARED_DB_H

#include <libpq-fe.h>
#include <stddef.h>

/* Start a non-blocking connection to `url` (a libpq URI or key=value
 * string), tagged with application_name `app`, for an event loop
 * (PQconnectStartParams); the caller drives PQconnectPoll and bounds the
 * time it takes. Returns NULL with a reason in err when libpq cannot even
 * start (out of memory, unparsable url). The caller owns the connection
 * (PQfinish). */
PGconn *db_connect_start(const char *url, const char *app, char *err, size_t errlen);

/* The first line of conn's last error, safe to log (never holds a password:
 * libpq does not echo connection strings). Borrowed from a static per-thread
 * buffer; valid until the next call in the same thread. */
const char *db_error(const PGconn *conn);

/* The first line of a result's error message (same rules as db_error). */
const char *db_result_error(const PGresult *res);

/* true when res is the given SQLSTATE class ("08" connection, "23" integrity...). */
int db_result_sqlstate_is(const PGresult *res, const char *sqlstate_prefix);

#endif
