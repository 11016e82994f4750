/* store_job.h -- private to the store module (store.c, store_query.c): a
 * job is one prepared statement plus a sync sent on a pipelined
 * connection; its `done` function decodes the result and calls the
 * caller's callback. Not for other files: PGresult never leaves the store
 * module. */
#ifndef RELAY_STORE_JOB_H
#define RELAY_STORE_JOB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct job;

/* Called once per job on the loop: res is the statement's result (owned
 * and cleared by store.c after the call), or NULL when the job failed
 * (connection lost, shutdown). */
typedef void (*job_done_fn)(struct job *job, PGresult *res);

struct job {
    struct job *next;
    job_done_fn done;
    void *fn;  /* the caller's callback, cast back by `done` */
    void *ctx; /* the caller's context, passed to fn */
    PGresult *res;
    int phase;
    long long sent_ms;
};

/* The relay's statements, prepared on every query connection when it
 * comes up (store.c), then executed by name: parsing, analysing and
 * planning each one on every call had been an eighth of the writer
 * backend's CPU in the benchmark's scenario (a). */
enum store_stmt {
    STMT_SESSION_LOOKUP,
    STMT_ROOM_JOIN,
    STMT_POST_BATCH,
    STMT_FETCH,
    STMT_ROOM_LAST,
    STMT_SESSIONS_ENDED,
    STMT_NOTIFY,
    STMT_COUNT
};

struct store_statement {
    const char *name; /* of the prepared statement */
    const char *sql;
    int nparams;
    bool binary; /* every parameter in the binary format (arrays, pg_array.h) */
};

/* Indexed by enum store_stmt (store_query.c). */
extern const struct store_statement store_statements[STMT_COUNT];

/* Execute statement `stmt` with its parameters (copied by libpq) as a job
 * on writer 0 (every query but the posts): text strings, or for a binary
 * statement byte strings of the given lengths (NULL for a text one).
 * Returns 0 (done will be called), or -1 when there is no writer, it is
 * down or its queue is full (done is not called). */
int job_send(enum store_stmt stmt, const char *const *values, const int *lengths,
             job_done_fn done, void *fn, void *ctx);

/* The same on writer connection `writer`; -1 also when writer >=
 * store_writers(). */
int job_send_writer(size_t writer, enum store_stmt stmt, const char *const *values,
                    const int *lengths, job_done_fn done, void *fn, void *ctx);

#endif
