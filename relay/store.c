/* store.c -- libpq in non-blocking pipeline mode on the event loop (one or
 * more query connections, each with its own job queue and the relay's
 * statements prepared on it), plus a LISTEN connection: connecting,
 * reconnecting with backoff, preparing, sending jobs and matching results
 * to them. The queries themselves are in store_query.c.
 * PGresult values never leave this file and store_query.c. */
#include "store.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "store_job.h"
#include "util.h"

#include <assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_JOBS 20000
#define STORE_MAX_PARAMS 8 /* of any statement in store_statements[] */
#define STORE_CONNECT_TIMEOUT_MS 10000
#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000

enum pgc_state { PGC_DOWN, PGC_CONNECTING, PGC_UP };

struct job;

struct pgc {
    char name[16];
    bool is_listen;
    struct job *head, *tail; /* jobs sent on this connection, in order */
    size_t njobs;
    PGconn *conn;
    int fd;
    enum pgc_state state;
    bool prepared; /* a query connection's statements are prepared */
    long long timer; /* retry or connect timeout */
    int backoff_ms;
};

static struct {
    struct loop *loop;
    char *url;
    struct store_events ev;
    struct pgc q[STORE_MAX_WRITERS]; /* q[0] also carries every other query */
    size_t nq;
    struct pgc listen;
    bool was_up;
} st;

static void pgc_connect(struct pgc *c);
static void pgc_event(struct loop *loop, int fd, int mask, void *data);
static bool prepare_statements(struct pgc *c);

bool store_up(void)
{
    if (st.nq == 0 || st.listen.state != PGC_UP)
        return false;
    for (size_t i = 0; i < st.nq; i++)
        if (st.q[i].state != PGC_UP || !st.q[i].prepared)
            return false;
    return true;
}

size_t store_pending(void)
{
    size_t n = 0;
    for (size_t i = 0; i < st.nq; i++)
        n += st.q[i].njobs;
    return n;
}

size_t store_writers(void)
{
    return st.nq;
}

static void report_state(void)
{
    bool up = store_up();
    metrics.db_up = up;
    if (up != st.was_up) {
        st.was_up = up;
        log_info("db: %s", up ? "up" : "down");
        if (st.ev.state)
            st.ev.state(up);
    }
}

static void pgc_lost(struct pgc *c, const char *why);

/* SQLSTATE 0A000 from a prepared statement: a migration changed the result
 * columns of what it calls ("cached plan must not change result type").
 * Statements prepared afresh on a new connection see the new shape. */
static bool statement_stale(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, "0A000") == 0;
}

/* Complete c's head job with res (may be NULL: failure). */
static void job_finish(struct pgc *c, PGresult *res)
{
    struct job *j = c->head;
    c->head = j->next;
    if (!c->head)
        c->tail = NULL;
    c->njobs--;
    metrics_db_roundtrip(loop_now_ms() - j->sent_ms);
    j->done(j, res);
    bool stale = statement_stale(res);
    PQclear(j->res);
    if (res != j->res)
        PQclear(res);
    free(j);
    if (stale && c->state == PGC_UP)
        pgc_lost(c, "a prepared statement no longer matches the schema; preparing again");
}

static void fail_all_jobs(struct pgc *c)
{
    while (c->head) {
        PQclear(c->head->res);
        c->head->res = NULL;
        job_finish(c, NULL);
    }
}

static long long retry_timer(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id;
    struct pgc *c = data;
    c->timer = 0;
    pgc_connect(c);
    return -1;
}

/* Close the connection (if any) and cancel its timer; c is left DOWN. */
static void pgc_close(struct pgc *c)
{
    if (c->timer)
        loop_del_timer(st.loop, c->timer);
    c->timer = 0;
    if (c->conn) {
        if (c->fd >= 0)
            loop_unwatch(st.loop, c->fd);
        PQfinish(c->conn);
    }
    c->conn = NULL;
    c->fd = -1;
    c->state = PGC_DOWN;
    c->prepared = false;
}

/* Drop the connection and schedule a reconnect. */
static void pgc_lost(struct pgc *c, const char *why)
{
    if (c->conn)
        log_warn("db: %s connection lost: %s", c->name, why);
    pgc_close(c);
    if (!c->is_listen)
        fail_all_jobs(c);
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : STORE_BACKOFF_MIN_MS;
    if (c->backoff_ms > STORE_BACKOFF_MAX_MS)
        c->backoff_ms = STORE_BACKOFF_MAX_MS;
    c->timer = st.url ? loop_add_timer(st.loop, c->backoff_ms, retry_timer, c) : 0;
    report_state();
}

/* Watch the connection's current socket with mask. */
static void pgc_watch(struct pgc *c, int mask)
{
    int fd = PQsocket(c->conn);
    if (fd != c->fd && c->fd >= 0)
        loop_unwatch(st.loop, c->fd);
    c->fd = fd;
    if (fd >= 0)
        loop_watch(st.loop, fd, mask, pgc_event, c);
}

/* Flush queued output; arm writability while libpq has more to send. */
static void pgc_flush(struct pgc *c)
{
    int r = PQflush(c->conn);
    if (r < 0) {
        pgc_lost(c, db_error(c->conn));
        return;
    }
    loop_set_mask(st.loop, c->fd, LOOP_READ | (r == 1 ? LOOP_WRITE : 0));
}

/* Announce a connection that is ready for use. */
static void pgc_up(struct pgc *c)
{
    c->backoff_ms = 0;
    log_info("db: %s connection up", c->name);
    report_state();
    if (c->is_listen && c->state == PGC_UP && st.ev.listen_up)
        st.ev.listen_up();
}

/* Connected: the listen connection sends its LISTEN and is up; a query
 * connection enters pipeline mode and prepares the statements, and is up
 * when they are (statement_prepared). */
static void pgc_ready(struct pgc *c)
{
    c->state = PGC_UP;
    if (c->timer) {
        loop_del_timer(st.loop, c->timer);
        c->timer = 0;
    }
    PQsetnonblocking(c->conn, 1);
    pgc_watch(c, LOOP_READ);
    bool sent = c->is_listen ? PQsendQuery(c->conn, "LISTEN chat_messages; LISTEN chat_sessions; "
                                                    "LISTEN chat_presence")
                             : PQenterPipelineMode(c->conn) && prepare_statements(c);
    if (!sent) {
        pgc_lost(c, db_error(c->conn));
        return;
    }
    pgc_flush(c);
    if (c->is_listen && c->state == PGC_UP)
        pgc_up(c);
}

/* Advance PQconnectPoll. */
static void pgc_poll(struct pgc *c)
{
    switch (PQconnectPoll(c->conn)) {
    case PGRES_POLLING_READING:
        pgc_watch(c, LOOP_READ);
        break;
    case PGRES_POLLING_WRITING:
        pgc_watch(c, LOOP_WRITE);
        break;
    case PGRES_POLLING_OK:
        pgc_ready(c);
        break;
    default:
        pgc_lost(c, db_error(c->conn));
        break;
    }
}

static long long connect_timeout(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id;
    struct pgc *c = data;
    c->timer = 0;
    if (c->state == PGC_CONNECTING)
        pgc_lost(c, "connect timed out");
    return -1;
}

static void pgc_connect(struct pgc *c)
{
    char err[256];
    c->fd = -1;
    c->conn = db_connect_start(st.url, "relay", err, sizeof(err));
    if (!c->conn) {
        log_warn("db: %s connect: %s", c->name, err);
        pgc_lost(c, err);
        return;
    }
    c->state = PGC_CONNECTING;
    c->timer = loop_add_timer(st.loop, STORE_CONNECT_TIMEOUT_MS, connect_timeout, c);
    pgc_poll(c);
}

/* Step the head job through result, NULL, PIPELINE_SYNC. */
static void main_results(struct pgc *c)
{
    while (c->head && c->state == PGC_UP && !PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        struct job *j = c->head;
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            job_finish(c, j->res);
            continue;
        }
        if (!r) {
            if (j->phase == 0)
                break; /* nothing ready */
            j->phase = 2;
            continue;
        }
        if (j->res)
            PQclear(j->res);
        j->res = r;
        j->phase = 1;
    }
}

static void listen_results(struct pgc *c)
{
    while (!PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!r)
            break;
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            log_error("db: LISTEN failed: %s", db_result_error(r));
        PQclear(r);
    }
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL) {
        if (st.ev.notify)
            st.ev.notify(n->relname, n->extra);
        PQfreemem(n);
    }
}

static void pgc_event(struct loop *loop, int fd, int mask, void *data)
{
    (void)loop, (void)fd;
    struct pgc *c = data;
    if (c->state == PGC_CONNECTING) {
        pgc_poll(c);
        return;
    }
    if (c->state != PGC_UP)
        return;
    if (mask & LOOP_WRITE) {
        pgc_flush(c);
        if (c->state != PGC_UP)
            return;
    }
    if (mask & LOOP_READ) {
        if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK) {
            pgc_lost(c, db_error(c->conn));
            return;
        }
        if (c->is_listen)
            listen_results(c);
        else
            main_results(c);
    }
}

int store_init(struct loop *loop, const char *url, size_t writers,
               const struct store_events *events)
{
    if (writers < 1 || writers > STORE_MAX_WRITERS) {
        log_error("db: %zu writer connections: must be 1..%d", writers, STORE_MAX_WRITERS);
        return -1;
    }
    st.loop = loop;
    st.url = xstrdup(url);
    st.ev = *events;
    st.nq = writers;
    for (size_t i = 0; i < st.nq; i++) {
        st.q[i] = (struct pgc){.fd = -1};
        snprintf(st.q[i].name, sizeof(st.q[i].name), i ? "writer %zu" : "query", i);
    }
    st.listen = (struct pgc){.name = "listen", .is_listen = true, .fd = -1};
    for (size_t i = 0; i < st.nq; i++)
        pgc_connect(&st.q[i]);
    pgc_connect(&st.listen);
    return 0;
}

void store_shutdown(void)
{
    free(st.url);
    st.url = NULL;
    for (size_t i = 0; i < st.nq; i++)
        pgc_close(&st.q[i]);
    pgc_close(&st.listen);
    for (size_t i = 0; i < st.nq; i++)
        fail_all_jobs(&st.q[i]);
}

/* Queue a job for what was just sent on c (its results come in order). */
static void job_queue(struct pgc *c, job_done_fn done, void *fn, void *ctx)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->done = done;
    j->fn = fn;
    j->ctx = ctx;
    j->sent_ms = loop_now_ms();
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->njobs++;
}

/* The result of preparing one statement (j->fn) on connection j->ctx: a
 * connection whose statements cannot all be prepared (a database not yet
 * migrated, say) is dropped and tried again with backoff. */
static void statement_prepared(struct job *j, PGresult *res)
{
    struct pgc *c = j->ctx;
    const struct store_statement *s = j->fn;
    if (!res)
        return; /* the connection is already gone */
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("db: %s connection: preparing %s failed: %s", c->name, s->name,
                  db_result_error(res));
        pgc_lost(c, "a statement could not be prepared");
        return;
    }
    if (s == &store_statements[STMT_COUNT - 1]) {
        c->prepared = true;
        pgc_up(c);
    }
}

/* Send the preparation of every statement, each with a sync, as jobs. */
static bool prepare_statements(struct pgc *c)
{
    for (size_t i = 0; i < STMT_COUNT; i++) {
        const struct store_statement *s = &store_statements[i];
        if (!PQsendPrepare(c->conn, s->name, s->sql, s->nparams, NULL) ||
            !PQpipelineSync(c->conn))
            return false;
        job_queue(c, statement_prepared, (void *)s, c);
    }
    return true;
}

/* Execute prepared statement stmt followed by a sync as a job on c. */
static int job_send_on(struct pgc *c, enum store_stmt stmt, const char *const *values,
                       const int *lengths, job_done_fn done, void *fn, void *ctx)
{
    static const int binary[STORE_MAX_PARAMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (c->state != PGC_UP || c->njobs >= STORE_MAX_JOBS)
        return -1;
    const struct store_statement *s = &store_statements[stmt];
    assert(s->binary == (lengths != NULL) && s->nparams <= STORE_MAX_PARAMS);
    if (!PQsendQueryPrepared(c->conn, s->name, s->nparams, values, lengths,
                             s->binary ? binary : NULL, 0) ||
        !PQpipelineSync(c->conn)) {
        log_error("db: send: %s", db_error(c->conn));
        pgc_lost(c, db_error(c->conn));
        return -1;
    }
    job_queue(c, done, fn, ctx);
    pgc_flush(c);
    return 0;
}

int job_send(enum store_stmt stmt, const char *const *values, const int *lengths,
             job_done_fn done, void *fn, void *ctx)
{
    if (st.nq == 0)
        return -1;
    return job_send_on(&st.q[0], stmt, values, lengths, done, fn, ctx);
}

int job_send_writer(size_t writer, enum store_stmt stmt, const char *const *values,
                    const int *lengths, job_done_fn done, void *fn, void *ctx)
{
    return writer < st.nq ? job_send_on(&st.q[writer], stmt, values, lengths, done, fn, ctx)
                          : -1;
}
