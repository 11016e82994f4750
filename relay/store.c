/* store.c -- libpq in non-blocking pipeline mode on the event loop (one or
 * more query connections, each with its own job queue), plus a LISTEN
 * connection. PGresult values never leave this file. */
#include "store.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_JOBS 20000
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
    long long timer; /* retry or connect timeout */
    int backoff_ms;
};

typedef void (*job_done_fn)(struct job *job, PGresult *res);

struct job {
    struct job *next;
    job_done_fn done;
    void *fn;
    void *ctx;
    PGresult *res;
    int phase;
    long long sent_ms;
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

bool store_up(void)
{
    if (st.nq == 0 || st.listen.state != PGC_UP)
        return false;
    for (size_t i = 0; i < st.nq; i++)
        if (st.q[i].state != PGC_UP)
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
    PQclear(j->res);
    if (res != j->res)
        PQclear(res);
    free(j);
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

/* Drop the connection and schedule a reconnect. */
static void pgc_lost(struct pgc *c, const char *why)
{
    if (c->conn) {
        log_warn("db: %s connection lost: %s", c->name, why);
        if (c->fd >= 0)
            loop_unwatch(st.loop, c->fd);
        PQfinish(c->conn);
        c->conn = NULL;
    }
    c->fd = -1;
    c->state = PGC_DOWN;
    if (!c->is_listen)
        fail_all_jobs(c);
    if (c->timer)
        loop_del_timer(st.loop, c->timer);
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

static void pgc_ready(struct pgc *c)
{
    c->state = PGC_UP;
    c->backoff_ms = 0;
    if (c->timer) {
        loop_del_timer(st.loop, c->timer);
        c->timer = 0;
    }
    PQsetnonblocking(c->conn, 1);
    pgc_watch(c, LOOP_READ);
    if (c->is_listen) {
        if (!PQsendQuery(c->conn, "LISTEN chat_messages; LISTEN chat_sessions; "
                                  "LISTEN chat_presence")) {
            pgc_lost(c, db_error(c->conn));
            return;
        }
        pgc_flush(c);
    } else if (!PQenterPipelineMode(c->conn)) {
        pgc_lost(c, db_error(c->conn));
        return;
    }
    log_info("db: %s connection up", c->name);
    report_state();
    if (c->is_listen && c->state == PGC_UP && st.ev.listen_up)
        st.ev.listen_up();
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

/* Send one statement followed by a sync as a job on connection c. */
static int job_send_on(struct pgc *c, const char *sql, int nparams, const char *const *values,
                       job_done_fn done, void *fn, void *ctx)
{
    if (c->state != PGC_UP || c->njobs >= STORE_MAX_JOBS)
        return -1;
    if (!PQsendQueryParams(c->conn, sql, nparams, NULL, values, NULL, NULL, 0) ||
        !PQpipelineSync(c->conn)) {
        log_error("db: send: %s", db_error(c->conn));
        pgc_lost(c, db_error(c->conn));
        return -1;
    }
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
    pgc_flush(c);
    return 0;
}

/* A job on the query connection (every query but the posts). */
static int job_send(const char *sql, int nparams, const char *const *values, job_done_fn done,
                    void *fn, void *ctx)
{
    if (st.nq == 0)
        return -1;
    return job_send_on(&st.q[0], sql, nparams, values, done, fn, ctx);
}

/* --- result decoding ------------------------------------------------------ */

static const char *val(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static long long num(const PGresult *r, int row, int col)
{
    const char *v = val(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static bool res_ok(const PGresult *r, const char *what)
{
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
        return true;
    if (r)
        log_error("db: %s failed: %s", what, db_result_error(r));
    return false;
}

/* Decode columns from `col`: seq, user_id, nickname, avatar_url, kind,
 * content, cid, time_ms. */
static void decode_row(const PGresult *r, int row, int col, struct store_row *out)
{
    out->seq = num(r, row, col);
    out->user_id = num(r, row, col + 1);
    out->nickname = val(r, row, col + 2) ? val(r, row, col + 2) : "";
    out->avatar_url = val(r, row, col + 3) ? val(r, row, col + 3) : "";
    const char *kind = val(r, row, col + 4);
    out->image = kind && strcmp(kind, "image") == 0;
    out->content = val(r, row, col + 5) ? val(r, row, col + 5) : "";
    out->cid = val(r, row, col + 6);
    out->time_ms = num(r, row, col + 7);
}

static void done_session(struct job *j, PGresult *r)
{
    store_session_fn fn = (store_session_fn)j->fn;
    if (!res_ok(r, "session lookup")) {
        fn(j->ctx, -1, NULL);
        return;
    }
    if (PQntuples(r) < 1) {
        fn(j->ctx, 1, NULL);
        return;
    }
    struct store_session s = {
        .session_id = val(r, 0, 0) ? val(r, 0, 0) : "",
        .user_id = num(r, 0, 1),
        .nickname = val(r, 0, 2) ? val(r, 0, 2) : "",
        .avatar_url = val(r, 0, 3) ? val(r, 0, 3) : "",
        .expires_ms = num(r, 0, 4),
        .revoked = val(r, 0, 5) && val(r, 0, 5)[0] == 't',
    };
    fn(j->ctx, 0, &s);
}

int store_session_lookup(const unsigned char hash[32], store_session_fn fn, void *ctx)
{
    char hex[2 + 64 + 1] = "\\x";
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", hash[i]);
    const char *values[] = {hex};
    return job_send("SELECT session_id, user_id, nickname, avatar_url, "
                    "(extract(epoch FROM expires_at) * 1000)::bigint, revoked "
                    "FROM chat_session_lookup($1::bytea)",
                    1, values, done_session, (void *)fn, ctx);
}

static void done_join(struct job *j, PGresult *r)
{
    store_join_fn fn = (store_join_fn)j->fn;
    if (!res_ok(r, "room join") || PQntuples(r) < 1) {
        fn(j->ctx, -1, NULL, NULL, 0);
        return;
    }
    struct store_room room = {num(r, 0, 0), num(r, 0, 1), val(r, 0, 2) ? val(r, 0, 2) : ""};
    int n = PQntuples(r);
    struct store_row *rows = xcalloc((size_t)n, sizeof(*rows));
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (val(r, i, 3))
            decode_row(r, i, 3, &rows[k++]);
    fn(j->ctx, 0, &room, rows, k);
    free(rows);
}

int store_room_join(const char *name, long long since, long long history, long long limit,
                    store_join_fn fn, void *ctx)
{
    char s[24], h[24], l[24];
    snprintf(s, sizeof(s), "%lld", since);
    snprintf(h, sizeof(h), "%lld", history);
    snprintf(l, sizeof(l), "%lld", limit);
    const char *values[] = {name, s, h, l};
    return job_send("SELECT * FROM chat_room_join($1, $2::bigint, $3::bigint, $4::bigint)", 4,
                    values, done_join, (void *)fn, ctx);
}

static void done_rows(struct job *j, PGresult *r, int col, const char *what)
{
    store_rows_fn fn = (store_rows_fn)j->fn;
    if (!res_ok(r, what)) {
        fn(j->ctx, -1, NULL, 0);
        return;
    }
    int n = PQntuples(r);
    struct store_row *rows = xcalloc((size_t)n + 1, sizeof(*rows));
    for (int i = 0; i < n; i++) {
        if (col > 0) {
            rows[i].idx = (int)num(r, i, 0);
            rows[i].duplicate = val(r, i, 1) && val(r, i, 1)[0] == 't';
            rows[i].invalid = val(r, i, 2) && val(r, i, 2)[0] == 't';
            rows[i].room = val(r, i, 3);
        }
        decode_row(r, i, col, &rows[i]);
        if (col > 0 && !rows[i].duplicate && !val(r, i, col + 5))
            rows[i].content = NULL; /* a fresh post: the caller has the content */
    }
    fn(j->ctx, 0, rows, (size_t)n);
    free(rows);
}

static void done_post(struct job *j, PGresult *r)
{
    done_rows(j, r, 4, "post");
}

static void done_fetch(struct job *j, PGresult *r)
{
    done_rows(j, r, 0, "fetch");
}

/* Append a PostgreSQL array literal element (quoted, escaped) or NULL. */
static void array_add(char **buf, size_t *len, size_t *cap, const char *v, bool first)
{
    size_t need = (v ? 2 * strlen(v) : 0) + 8;
    if (*len + need >= *cap) {
        *cap = (*len + need) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    char *p = *buf + *len;
    if (!first)
        *p++ = ',';
    if (!v) {
        memcpy(p, "NULL", 4);
        p += 4;
    } else {
        *p++ = '"';
        for (const char *s = v; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *len = (size_t)(p - *buf);
}

/* A text[] literal of n strings (entries may be NULL); malloc'ed. */
static char *array_literal(const char *const *items, size_t n)
{
    size_t cap = 64, len = 1;
    char *buf = xmalloc(cap);
    buf[0] = '{';
    for (size_t i = 0; i < n; i++)
        array_add(&buf, &len, &cap, items[i], i == 0);
    if (len + 2 > cap)
        buf = xrealloc(buf, len + 2);
    buf[len] = '}';
    buf[len + 1] = '\0';
    return buf;
}

/* "\\x<hex>" bytea input for a 32-byte hash, into out[67]. */
static void hash_hex(const unsigned char hash[32], char *out)
{
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", hash[i]);
}

int store_post(size_t writer, size_t n, const long long *room_ids, const long long *user_ids,
               const char *const *kinds, const char *const *contents, const char *const *cids,
               const unsigned char (*skey_hashes)[32], store_rows_fn fn, void *ctx)
{
    /* Numbers and hashes are formatted into one buffer (no malloc each). */
    char *nums = xmalloc(n * (24 + 24 + 67) + 1);
    const char **rids = xcalloc(n + 1, sizeof(*rids)), **uids = xcalloc(n + 1, sizeof(*uids));
    const char **hashes = xcalloc(n + 1, sizeof(*hashes));
    char *p = nums;
    for (size_t i = 0; i < n; i++) {
        rids[i] = p;
        p += snprintf(p, 24, "%lld", room_ids[i]) + 1;
        uids[i] = p;
        p += snprintf(p, 24, "%lld", user_ids[i]) + 1;
        hashes[i] = p;
        hash_hex(skey_hashes[i], p);
        p += 67;
    }
    char *a_room = array_literal(rids, n), *a_uid = array_literal(uids, n);
    char *a_kind = array_literal(kinds, n), *a_content = array_literal(contents, n);
    char *a_cid = array_literal(cids, n), *a_hash = array_literal(hashes, n);
    const char *values[] = {a_room, a_uid, a_kind, a_content, a_cid, a_hash};
    int rc = writer < st.nq
                 ? job_send_on(&st.q[writer],
                               "SELECT * FROM chat_post_batch($1::bigint[], $2::bigint[], "
                               "$3::text[], $4::text[], $5::text[], $6::bytea[])",
                               6, values, done_post, (void *)fn, ctx)
                 : -1;
    free(nums), free(rids), free(uids), free(hashes);
    free(a_room), free(a_uid), free(a_kind), free(a_content), free(a_cid), free(a_hash);
    return rc;
}

int store_fetch(long long room_id, long long after, long long upto, store_rows_fn fn, void *ctx)
{
    char r[24], a[24], u[24];
    snprintf(r, sizeof(r), "%lld", room_id);
    snprintf(a, sizeof(a), "%lld", after);
    snprintf(u, sizeof(u), "%lld", upto);
    const char *values[] = {r, a, u};
    return job_send("SELECT m.seq, m.user_id, u.nickname, u.avatar_url, m.kind, m.content, m.cid, "
                    "(extract(epoch FROM m.created_at) * 1000)::bigint "
                    "FROM messages m LEFT JOIN users u ON u.id = m.user_id "
                    "WHERE m.room_id = $1::bigint AND m.seq > $2::bigint AND m.seq <= $3::bigint "
                    "ORDER BY m.seq",
                    3, values, done_fetch, (void *)fn, ctx);
}

static void done_value(struct job *j, PGresult *r)
{
    store_value_fn fn = (store_value_fn)j->fn;
    if (!res_ok(r, "room counter") || PQntuples(r) < 1)
        fn(j->ctx, -1, 0);
    else
        fn(j->ctx, 0, num(r, 0, 0));
}

int store_room_last(long long room_id, store_value_fn fn, void *ctx)
{
    char r[24];
    snprintf(r, sizeof(r), "%lld", room_id);
    const char *values[] = {r};
    return job_send("SELECT last_seq FROM rooms WHERE id = $1::bigint", 1, values, done_value,
                    (void *)fn, ctx);
}

static void done_notify(struct job *j, PGresult *r)
{
    (void)j;
    res_ok(r, "notify");
}

int store_notify(const char *channel, const char *const *payloads, size_t n)
{
    if (n == 0)
        return 0;
    char *arr = array_literal(payloads, n);
    const char *values[] = {channel, arr};
    int rc = job_send("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", 2, values,
                      done_notify, NULL, NULL);
    free(arr);
    return rc;
}
