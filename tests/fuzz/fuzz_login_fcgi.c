/* fuzz_login_fcgi.c -- libFuzzer target for login-fcgi's FastCGI layer
 * (fcgi_conn.h over fcgi_proto.h), run as server.c runs it.
 *
 * Input: the byte stream the web server sends on one connection (at most
 * 64 KiB). It is written into one end of a socket pair, whose sending side
 * is then shut; on the other end a coroutine on the event loop, woken by
 * an edge-triggered watch of the socket, serves requests one after the
 * other: each body read to its end (or failure) in pieces of sizes taken
 * from the input, an answer written (a status line and the body; for the
 * first request, when its body begins with an odd byte, the body again
 * and again past 65535 bytes: more than one STDOUT record), the request
 * finished, until the connection is not kept or ends; while it idles, the
 * coroutine waits for more input (server.c queues the connection again).
 * The test side sends the input in pieces of sizes taken from the input,
 * one per turn of the loop, and drains what the server wrote after each;
 * both ends have small send buffers, so that answers fill the socket:
 * the server waits for the rest of a record, for the next one while it
 * idles, and for room to write.
 *
 * Checked: the coroutine finishes without ever stalling (no byte moving
 * for STALL_TURNS turns: the server missed a wake-up); each parameter
 * NAME=value is found by its NAME; a body that ended keeps ending; what
 * the server wrote is whole records of version 1, no padding, of the
 * types a responder sends, with consistent lengths, and for every request
 * it opened, in order, STDOUT records carrying exactly the answer written,
 * an empty STDOUT and one END_REQUEST(REQUEST_COMPLETE) with its id.
 * And against a reference worked out from the input here (the model
 * below, written from the FastCGI specification and the rules fcgi_conn.h
 * states; where they leave a choice it follows fcgi_conn.c: other records
 * of the open request are ignored while its body is read, and
 * GET_VALUES_RESULT holds at most 256 bytes of pairs): the same requests
 * open, with the same ids, "NAME=value" strings and bodies, and the same
 * records other than STDOUT (management answers, refusals, END_REQUESTs)
 * in the same order.
 * Everything is freed per input; the loop is made once. */
#include "coro.h"
#include "fcgi_conn.h"
#include "fcgi_proto.h"
#include "fuzz_common.h"
#include "log.h"
#include "loop.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (64 * 1024)
#define STACK_SIZE (256 * 1024)
#define IO_MS 5000     /* never reached while every wake-up comes */
#define STALL_TURNS 50 /* turns of at most 10 ms in which no byte moved: a lost wake-up */
#define SNDBUF 4096    /* each end's send buffer (the kernel doubles it) */
#define PIECE_MAX 1024 /* input bytes sent per turn at most */
#define VALUES_MAX 256 /* room for GET_VALUES_RESULT's pairs */
#define STATUS_LINE "Status: 200 OK\r\n\r\n"

/* A growing byte buffer. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static bool same(const struct bytes *a, const struct bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* A request that opened, as both sides log it: its id, its "NAME=value"
 * strings (each with its NUL) and its body, each with a 4-byte length. */
static void put_sized(struct bytes *log, const void *p, size_t n)
{
    const unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                  (unsigned char)(n >> 8), (unsigned char)n};
    put(log, len, sizeof(len));
    put(log, p, n);
}

static void log_request(struct bytes *log, unsigned id, const struct bytes *strings,
                        const struct bytes *body)
{
    const unsigned char idb[2] = {(unsigned char)(id >> 8), (unsigned char)id};
    put_sized(log, idb, sizeof(idb));
    put_sized(log, strings->p, strings->len);
    put_sized(log, body->p, body->len);
}

/* ---- The reference: what the server must do with the input. ---------- */

static void ref_record(struct bytes *out, unsigned type, unsigned id, const void *content,
                       size_t len)
{
    const unsigned char h[FCGI_HEADER_LEN] = {
        FCGI_VERSION,      (unsigned char)type,       (unsigned char)(id >> 8),
        (unsigned char)id, (unsigned char)(len >> 8), (unsigned char)len};
    put(out, h, sizeof(h));
    put(out, content, len);
}

static void ref_end(struct bytes *out, unsigned id, unsigned status)
{
    const unsigned char body[8] = {0, 0, 0, 0, (unsigned char)status};
    ref_record(out, FCGI_END_REQUEST, id, body, sizeof(body));
}

/* A pair's length at *pos: one byte below 128, else four, top bit off. */
static bool ref_length(const uint8_t *p, size_t len, size_t *pos, size_t *out)
{
    if (*pos >= len || (p[*pos] >= 0x80 && len - *pos < 4))
        return false;
    if (p[*pos] < 0x80) {
        *out = p[(*pos)++];
        return true;
    }
    *out = (size_t)(p[*pos] & 0x7f) << 24 | (size_t)p[*pos + 1] << 16 | (size_t)p[*pos + 2] << 8 |
           p[*pos + 3];
    *pos += 4;
    return true;
}

static void ref_put_length(struct bytes *out, size_t n)
{
    const unsigned char four[4] = {(unsigned char)(0x80 | n >> 24), (unsigned char)(n >> 16),
                                   (unsigned char)(n >> 8), (unsigned char)n};
    const unsigned char one = (unsigned char)n;
    if (n < 0x80)
        put(out, &one, 1);
    else
        put(out, four, sizeof(four));
}

/* What GET_VALUES answers for the variable name[0..len): the names of
 * fcgi_conn.h with their values, nothing for others. Appends the pair to
 * *values if it fits. */
static void ref_value(struct bytes *values, const uint8_t *name, size_t len)
{
    char max_conns[16];
    snprintf(max_conns, sizeof(max_conns), "%d", FCGI_MAX_CONNS);
    const char *known[][2] = {
        {"FCGI_MAX_CONNS", max_conns}, {"FCGI_MAX_REQS", max_conns}, {"FCGI_MPXS_CONNS", "0"}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t nl = strlen(known[i][0]), vl = strlen(known[i][1]);
        if (len != nl || memcmp(name, known[i][0], nl) != 0)
            continue;
        if (values->len + (nl < 0x80 ? 1 : 4) + (vl < 0x80 ? 1 : 4) + nl + vl > VALUES_MAX)
            return;
        ref_put_length(values, nl);
        ref_put_length(values, vl);
        put(values, known[i][0], nl);
        put(values, known[i][1], vl);
    }
}

/* Walk the pairs of p[0..len): append each as a C string "NAME=value"
 * (cut at a NUL, as C reads it) to *strings, or what GET_VALUES answers
 * for it to *values (either may be NULL). False when malformed. */
static bool ref_pairs(const uint8_t *p, size_t len, struct bytes *strings, struct bytes *values)
{
    size_t pos = 0;
    while (pos < len) {
        size_t nl, vl;
        if (!ref_length(p, len, &pos, &nl) || !ref_length(p, len, &pos, &vl) || nl > len - pos ||
            vl > len - pos - nl)
            return false;
        const uint8_t *name = p + pos, *value = p + pos + nl;
        pos += nl + vl;
        if (values)
            ref_value(values, name, nl);
        if (!strings)
            continue;
        size_t start = strings->len;
        put(strings, name, nl);
        put(strings, "=", 1);
        put(strings, value, vl);
        const void *nul = memchr(strings->p + start, '\0', strings->len - start);
        if (nul)
            strings->len = (size_t)((const unsigned char *)nul - strings->p);
        put(strings, "", 1);
    }
    return true;
}

/* A record that is not the next piece of the open request: management
 * records answered, a BEGIN_REQUEST refused, the rest skipped. False when
 * the connection closes. */
static bool ref_other(struct bytes *out, unsigned type, unsigned id, const uint8_t *c, size_t len)
{
    if (id == 0 && type == FCGI_GET_VALUES) {
        struct bytes values = {0};
        bool ok = ref_pairs(c, len, NULL, &values);
        if (ok)
            ref_record(out, FCGI_GET_VALUES_RESULT, 0, values.p, values.len);
        free(values.p);
        return ok;
    }
    if (id == 0) {
        const unsigned char body[8] = {(unsigned char)type};
        ref_record(out, FCGI_UNKNOWN_TYPE, 0, body, sizeof(body));
    } else if (type == FCGI_BEGIN_REQUEST) {
        ref_end(out, id, FCGI_CANT_MPX_CONN);
    }
    return true;
}

/* The state of the reference connection. */
struct ref {
    struct bytes recs, reqs; /* records other than STDOUT; the requests' log */
    unsigned open;           /* the open request's id, 0: none */
    bool keep, in_body;
    struct bytes params, strings, body;
};

/* The server answers the open request (STDOUT, not kept in recs) and
 * ends it. */
static void ref_finish(struct ref *m)
{
    log_request(&m->reqs, m->open, &m->strings, &m->body);
    ref_end(&m->recs, m->open, FCGI_REQUEST_COMPLETE);
    m->open = 0;
}

/* One record of type, id and content c[0..len). False when the
 * connection closes. */
static bool ref_step(struct ref *m, unsigned type, unsigned id, const uint8_t *c, size_t len)
{
    if (m->open == 0 && (type != FCGI_BEGIN_REQUEST || id == 0))
        return ref_other(&m->recs, type, id, c, len);
    if (m->open == 0) {
        if (len != 8)
            return false;
        m->keep = c[2] & FCGI_KEEP_CONN;
        if ((c[0] << 8 | c[1]) != FCGI_RESPONDER) {
            ref_end(&m->recs, id, FCGI_UNKNOWN_ROLE);
            return m->keep;
        }
        m->open = id;
        m->in_body = false;
        m->params.len = m->strings.len = m->body.len = 0;
        return true;
    }
    if (id != m->open || (!m->in_body && type != FCGI_PARAMS && type != FCGI_ABORT_REQUEST))
        return ref_other(&m->recs, type, id, c, len);
    if (!m->in_body && type == FCGI_ABORT_REQUEST) {
        ref_end(&m->recs, id, FCGI_REQUEST_COMPLETE);
        m->open = 0;
        return m->keep;
    }
    if (!m->in_body && len > 0) {
        if (len > FCGI_PARAMS_MAX - m->params.len)
            return false;
        put(&m->params, c, len);
        return true;
    }
    if (!m->in_body) {
        m->in_body = ref_pairs(m->params.p, m->params.len, &m->strings, NULL);
        return m->in_body;
    }
    /* The body: an abort or its end answers the request; other records
     * of it are ignored. */
    if (type == FCGI_ABORT_REQUEST || (type == FCGI_STDIN && len == 0)) {
        ref_finish(m);
        return m->keep;
    }
    if (type == FCGI_STDIN)
        put(&m->body, c, len);
    return true;
}

/* Run the reference over d[0..n): records until the input ends (in a
 * record or between two) or the connection closes. A request whose body
 * was being read is answered still (its body failed), and not kept. */
static void ref_run(struct ref *m, const uint8_t *d, size_t n)
{
    size_t pos = 0;
    while (n - pos >= FCGI_HEADER_LEN && d[pos] == FCGI_VERSION) {
        const uint8_t *h = d + pos;
        size_t len = (size_t)h[4] << 8 | h[5];
        if (n - pos - FCGI_HEADER_LEN < len + h[6])
            break;
        pos += FCGI_HEADER_LEN + len + h[6];
        if (!ref_step(m, h[1], (unsigned)h[2] << 8 | h[3], h + FCGI_HEADER_LEN, len))
            break;
    }
    if (m->open && m->in_body)
        ref_finish(m);
}

static void ref_free(struct ref *m)
{
    free(m->recs.p);
    free(m->reqs.p);
    free(m->params.p);
    free(m->strings.p);
    free(m->body.p);
}

/* ---- The server under test. ------------------------------------------- */

/* A request the server opened, and the answer it wrote. */
struct opened {
    unsigned id;
    size_t answer_off, answer_len; /* in run.answers */
};

/* One connection. */
struct run {
    struct loop_watch watch; /* first: watch_ready() casts back */
    int fd[2];               /* [0] fcgi_conn's (non-blocking), [1] the web server's */
    struct fcgi_conn c;
    const uint8_t *data;
    size_t size, sent, sends, pieces;
    bool shut, finished;
    struct bytes answers, got, opened; /* opened: struct opened entries */
    struct bytes reqs;                 /* the requests' log */
};

static void watch_ready(struct loop_watch *w, uint32_t events)
{
    struct run *r = (struct run *)w;
    fcgi_conn_event(&r->c, events);
}

/* The parameters as "NAME=value" strings, each with its NUL; checks that
 * fcgi_conn_param finds each NAME. */
static void get_params(const struct fcgi_conn *c, struct bytes *strings)
{
    for (char *const *e = fcgi_conn_envp(c); e && *e; e++) {
        put(strings, *e, strlen(*e) + 1);
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue; /* a NUL in the name cut the string short */
        char *name = fuzz_strndup((const uint8_t *)*e, (size_t)(eq - *e));
        FUZZ_CHECK(fcgi_conn_param(c, name) != NULL);
        free(name);
    }
}

/* Read the body into *body, to its end or a failure. */
static void read_body(struct run *r, struct bytes *body)
{
    unsigned char buf[512];
    long n;
    for (;;) {
        size_t want = fuzz_chunk(r->data, r->size, ++r->pieces, sizeof(buf));
        n = fcgi_conn_read_body(&r->c, buf, want, IO_MS);
        if (n <= 0)
            break;
        FUZZ_CHECK((size_t)n <= want);
        put(body, buf, (size_t)n);
    }
    FUZZ_CHECK(n == 0 || n == -1);
    FUZZ_CHECK(body->len <= r->size);
    if (n == 0)
        FUZZ_CHECK(fcgi_conn_read_body(&r->c, buf, sizeof(buf), IO_MS) == 0);
}

/* Write part of the answer, and note it as expected. */
static void answer(struct run *r, const void *p, size_t n)
{
    fcgi_conn_write(&r->c, p, n);
    put(&r->answers, p, n);
}

/* The next request; while the connection idles, wait for more input. */
static int next_request(struct run *r)
{
    int rc;
    while ((rc = fcgi_conn_next_request(&r->c, IO_MS)) == 0)
        FUZZ_CHECK(loop_sleep(&r->c.sleeper, IO_MS));
    return rc;
}

/* The coroutine: serve the connection's requests as server.c does. */
static void serve(void *arg)
{
    struct run *r = arg;
    struct fcgi_conn *c = &r->c;
    while (next_request(r) == 1) {
        struct opened o = {c->request_id, r->answers.len, 0};
        FUZZ_CHECK(o.id != 0);
        struct bytes strings = {0}, body = {0};
        get_params(c, &strings);
        read_body(r, &body);
        log_request(&r->reqs, o.id, &strings, &body);
        answer(r, STATUS_LINE, strlen(STATUS_LINE));
        answer(r, body.p, body.len);
        bool long_answer = r->opened.len == 0 && body.len > 0 && (body.p[0] & 1);
        while (long_answer && r->answers.len - o.answer_off <= FCGI_CONTENT_MAX)
            answer(r, body.p, body.len);
        free(strings.p);
        free(body.p);
        o.answer_len = r->answers.len - o.answer_off;
        put(&r->opened, &o, sizeof(o));
        FUZZ_CHECK(fcgi_conn_finish(c, IO_MS) == 0); /* the test side reads everything */
        if (!fcgi_conn_keep(c))
            break;
    }
    r->finished = true;
}

/* The web server's part of a turn: send the next piece of the input
 * (after the last, shut the sending side), read what came back. Returns
 * whether a byte moved. */
static bool peer_io(struct run *r)
{
    size_t before = r->sent + r->got.len;
    if (r->sent < r->size) {
        size_t piece = fuzz_chunk(r->data, r->size, ++r->sends, PIECE_MAX);
        size_t n_max = r->size - r->sent < piece ? r->size - r->sent : piece;
        ssize_t n = send(r->fd[1], r->data + r->sent, n_max, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            r->sent += (size_t)n;
    }
    if (!r->shut && r->sent == r->size) {
        FUZZ_CHECK(shutdown(r->fd[1], SHUT_WR) == 0);
        r->shut = true;
    }
    unsigned char buf[16384];
    ssize_t n;
    while ((n = recv(r->fd[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        put(&r->got, buf, (size_t)n);
    return r->sent + r->got.len != before;
}

/* What the server wrote (see the header comment); its records other than
 * STDOUT go to *recs. */
static void check_output(const struct run *r, struct bytes *recs)
{
    const struct opened *opened = (const struct opened *)r->opened.p;
    size_t n_opened = r->opened.len / sizeof(*opened);
    size_t pos = 0, done = 0, off = 0; /* off: in the current answer */
    bool stdout_ended = false;
    while (pos < r->got.len) {
        FUZZ_CHECK(r->got.len - pos >= FCGI_HEADER_LEN);
        const unsigned char *h = r->got.p + pos, *content = h + FCGI_HEADER_LEN;
        unsigned type = h[1], id = (unsigned)h[2] << 8 | h[3];
        size_t len = (size_t)h[4] << 8 | h[5];
        FUZZ_CHECK(h[0] == FCGI_VERSION && h[6] == 0 && h[7] == 0);
        FUZZ_CHECK(r->got.len - pos - FCGI_HEADER_LEN >= len);
        pos += FCGI_HEADER_LEN + len;
        if (type != FCGI_STDOUT)
            put(recs, h, FCGI_HEADER_LEN + len);
        const struct opened *o = done < n_opened ? &opened[done] : NULL;
        if (type == FCGI_STDOUT) {
            FUZZ_CHECK(o && id == o->id && !stdout_ended);
            FUZZ_CHECK(len <= o->answer_len - off);
            FUZZ_CHECK(len == 0 || memcmp(content, r->answers.p + o->answer_off + off, len) == 0);
            off += len;
            stdout_ended = len == 0;
            FUZZ_CHECK(!stdout_ended || off == o->answer_len);
        } else if (type == FCGI_END_REQUEST) {
            FUZZ_CHECK(len == 8 && id != 0);
            if (stdout_ended) { /* the end of an opened request's answer */
                FUZZ_CHECK(id == o->id && content[4] == FCGI_REQUEST_COMPLETE);
                done++;
                off = 0;
                stdout_ended = false;
            } else { /* a refusal, or an abort before the request opened */
                FUZZ_CHECK(off == 0);
            }
        } else {
            FUZZ_CHECK(type == FCGI_GET_VALUES_RESULT || type == FCGI_UNKNOWN_TYPE);
            FUZZ_CHECK(id == 0 && off == 0 && !stdout_ended);
        }
    }
    FUZZ_CHECK(done == n_opened && off == 0 && !stdout_ended);
}

static void run_free(struct run *r)
{
    free(r->answers.p);
    free(r->got.p);
    free(r->opened.p);
    free(r->reqs.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool loop_made;
    if (!loop_made) {
        log_init("fuzz_login_fcgi", "error"); /* refusals log warnings */
        FUZZ_CHECK(loop_init() == 0);
        loop_made = true;
    }
    struct run r = {.watch.ready = watch_ready, .data = data};
    r.size = size < INPUT_MAX ? size : INPUT_MAX;
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r.fd) == 0);
    FUZZ_CHECK(fcntl(r.fd[0], F_SETFL, fcntl(r.fd[0], F_GETFL) | O_NONBLOCK) == 0);
    int sndbuf = SNDBUF;
    for (int i = 0; i < 2; i++)
        FUZZ_CHECK(setsockopt(r.fd[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == 0);
    fcgi_conn_init(&r.c, r.fd[0], &r.watch);
    FUZZ_CHECK(loop_watch_add(r.fd[0], FCGI_CONN_EVENTS, &r.watch) == 0);

    peer_io(&r);
    struct coro *co = coro_new(serve, &r, STACK_SIZE);
    FUZZ_CHECK(co != NULL);
    coro_resume(co);
    for (int idle = 0; !r.finished;) {
        idle = peer_io(&r) ? 0 : idle + 1;
        FUZZ_CHECK(idle < STALL_TURNS); /* else the server missed a wake-up */
        FUZZ_CHECK(loop_turn(10) == 0);
    }
    peer_io(&r);

    struct bytes recs = {0};
    check_output(&r, &recs);
    struct ref m = {0};
    ref_run(&m, data, r.size);
    FUZZ_CHECK(same(&r.reqs, &m.reqs));
    FUZZ_CHECK(same(&recs, &m.recs));

    free(recs.p);
    ref_free(&m);
    loop_watch_remove(r.fd[0], &r.watch);
    close(r.fd[0]);
    close(r.fd[1]);
    fcgi_conn_release(&r.c);
    coro_free(co);
    run_free(&r);
    return 0;
}
