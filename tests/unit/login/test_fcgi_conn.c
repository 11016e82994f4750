/* test_fcgi_conn.c -- login-fcgi/fcgi_conn.c over a real socket pair, run
 * as the server runs it: in a coroutine on the event loop, woken by an
 * edge-triggered watch of the socket (as server.c's conn_ready does).
 *
 * The test plays the web server on the other end: it writes a stream of
 * records (all at once, or in pieces between turns of the loop), reads
 * what fcgi_conn answers and splits it into records itself. Checked:
 *  - a whole request (parameters split over records, even inside one
 *    pair; padding; a body in several STDIN records) gives its parameters
 *    by name and as "NAME=value" strings, its body and then 0; a
 *    70,000-byte answer goes out (through a small socket buffer: the
 *    server waits for room) as STDOUT records of at most 65535 bytes that
 *    add up to it, then an empty STDOUT and END_REQUEST; the connection
 *    then idles and is kept;
 *  - GET_VALUES and unknown management records are answered, an unknown
 *    role refused, a second BEGIN_REQUEST (while the parameters or the
 *    body are read) refused with CANT_MPX_CONN, records of other requests
 *    skipped;
 *  - input that stops halfway (in a header, in a record, between records)
 *    is waited for;
 *  - a record of version 2, a BEGIN_REQUEST body not 8 bytes long,
 *    malformed pairs, parameters over FCGI_PARAMS_MAX (exactly that many
 *    pass), a peer that closes or goes silent mid-record end the
 *    connection;
 *  - ABORT_REQUEST ends a request while its parameters come (END_REQUEST,
 *    the connection kept) or fails the body read (the answer still goes
 *    out);
 *  - a body not read to its end (or a BEGIN_REQUEST without keep-conn)
 *    means the connection is not kept.
 *
 * The records sent are written here without fcgi_proto.c. No cmocka
 * assertion runs inside the coroutine (a failure would longjmp off its
 * stack): it records what it saw, the test asserts once it has finished. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro.h"
#include "fcgi_conn.h"
#include "fcgi_proto.h"
#include "log.h"
#include "loop.h"

#define STACK_SIZE (256 * 1024)
#define IO_MS 2000    /* fcgi_conn's time limit; only the "silent" case reaches it */
#define MAX_TURNS 500 /* of at most 10 ms each */
#define PAUSE_TURNS 5 /* turns the server must wait through for the rest of its input */
#define NOT_RUN (-99) /* a result the coroutine did not get to */
#define LOOKUPS 4
#define BIG_ANSWER 70000
#define SMALL_ANSWER 10
#define SNDBUF 4096 /* fcgi_conn's send buffer (the kernel doubles it): big answers wait */

/* A growing byte buffer. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_byte(struct bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

/* A record: header, content, `padding` bytes of junk. */
static void put_record(struct bytes *b, unsigned type, unsigned id, const void *content, size_t len,
                       unsigned padding)
{
    const unsigned char h[FCGI_HEADER_LEN] = {
        FCGI_VERSION,      (unsigned char)type,       (unsigned char)(id >> 8),
        (unsigned char)id, (unsigned char)(len >> 8), (unsigned char)len,
        (unsigned char)padding};
    put(b, h, sizeof(h));
    put(b, content, len);
    for (unsigned i = 0; i < padding; i++)
        put_byte(b, 0xaa);
}

static void put_length(struct bytes *b, size_t n)
{
    if (n < 0x80) {
        put_byte(b, (unsigned)n);
        return;
    }
    put_byte(b, (unsigned)(0x80 | n >> 24));
    put_byte(b, (unsigned)(n >> 16 & 0xff));
    put_byte(b, (unsigned)(n >> 8 & 0xff));
    put_byte(b, (unsigned)(n & 0xff));
}

/* A name-value pair, and the "NAME=value" string fcgi_conn should make of it. */
static void put_pair(struct bytes *b, struct bytes *strings, const char *name, const char *value)
{
    put_length(b, strlen(name));
    put_length(b, strlen(value));
    put(b, name, strlen(name));
    put(b, value, strlen(value));
    if (strings) {
        put(strings, name, strlen(name));
        put(strings, "=", 1);
        put(strings, value, strlen(value) + 1);
    }
}

static void put_begin(struct bytes *b, unsigned id, unsigned role, bool keep)
{
    const unsigned char body[8] = {(unsigned char)(role >> 8), (unsigned char)role,
                                   keep ? FCGI_KEEP_CONN : 0};
    put_record(b, FCGI_BEGIN_REQUEST, id, body, sizeof(body), 0);
}

/* A request's head: BEGIN_REQUEST, the parameters in one record, their
 * end. */
static void put_head(struct bytes *b, unsigned id, bool keep, const struct bytes *params)
{
    put_begin(b, id, FCGI_RESPONDER, keep);
    put_record(b, FCGI_PARAMS, id, params->p, params->len, 0);
    put_record(b, FCGI_PARAMS, id, NULL, 0, 0);
}

/* A whole request: its head, the body (if any) in one STDIN record, its
 * end. */
static void put_request(struct bytes *b, unsigned id, bool keep, const struct bytes *params,
                        const char *body)
{
    put_head(b, id, keep, params);
    if (body[0])
        put_record(b, FCGI_STDIN, id, body, strlen(body), 0);
    put_record(b, FCGI_STDIN, id, NULL, 0, 0);
}

/* Byte i of the answers the server writes. */
static unsigned char answer_byte(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

/* One connection: fcgi_conn on one end of a socket pair, the test on the
 * other, and what the coroutine serving it saw. */
struct session {
    struct loop_watch watch; /* first: watch_ready() casts back */
    int fd[2];               /* [0] fcgi_conn's (non-blocking), [1] the peer's */
    struct fcgi_conn c;
    struct coro *co;
    /* the peer */
    struct bytes to_send, got;
    size_t sent;
    bool shut_when_sent, shut;
    /* what the coroutine does */
    int io_ms;
    size_t body_max, answer_len;
    const char *lookup[LOOKUPS];
    /* and what it saw */
    bool finished, keep;
    int rc_next, rc_finish, rc_after;
    long rc_body, rc_body_again;
    char *found[LOOKUPS];
    struct bytes env; /* the "NAME=value" strings, each with its NUL */
    size_t env_count;
    struct bytes body;
};

static void watch_ready(struct loop_watch *w, uint32_t events)
{
    struct session *s = (struct session *)w;
    fcgi_conn_event(&s->c, events);
}

static void session_open(struct session *s)
{
    memset(s, 0, sizeof(*s));
    s->io_ms = IO_MS;
    s->body_max = SIZE_MAX;
    s->answer_len = SMALL_ANSWER;
    s->rc_next = s->rc_finish = s->rc_after = NOT_RUN;
    s->rc_body = s->rc_body_again = NOT_RUN;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->fd), 0);
    assert_int_equal(fcntl(s->fd[0], F_SETFL, fcntl(s->fd[0], F_GETFL) | O_NONBLOCK), 0);
    int sndbuf = SNDBUF;
    assert_int_equal(setsockopt(s->fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    assert_int_equal(loop_init(), 0);
    fcgi_conn_init(&s->c, s->fd[0], &s->watch);
    s->watch.ready = watch_ready;
    assert_int_equal(
        loop_watch_add(s->fd[0], FCGI_CONN_EVENTS, &s->watch), 0);
}

static void session_close(struct session *s)
{
    loop_watch_remove(s->fd[0], &s->watch);
    close(s->fd[0]);
    close(s->fd[1]);
    fcgi_conn_release(&s->c);
    coro_free(s->co);
    loop_free();
    for (size_t i = 0; i < LOOKUPS; i++)
        free(s->found[i]);
    free(s->to_send.p);
    free(s->got.p);
    free(s->env.p);
    free(s->body.p);
}

/* The body, read in small pieces up to body_max bytes, then once more
 * after its end. */
static void serve_body(struct session *s)
{
    unsigned char piece[7];
    while (s->body.len < s->body_max) {
        size_t want = s->body_max - s->body.len;
        long n = fcgi_conn_read_body(&s->c, piece, want < sizeof(piece) ? want : sizeof(piece),
                                     s->io_ms);
        if (n <= 0) {
            s->rc_body = n;
            if (n == 0)
                s->rc_body_again = fcgi_conn_read_body(&s->c, piece, sizeof(piece), s->io_ms);
            return;
        }
        put(&s->body, piece, (size_t)n);
    }
}

/* The coroutine: serve one request as a handler would, record all. */
static void serve(void *arg)
{
    struct session *s = arg;
    struct fcgi_conn *c = &s->c;
    s->rc_next = fcgi_conn_next_request(c, s->io_ms);
    if (s->rc_next == 1) {
        for (size_t i = 0; i < LOOKUPS && s->lookup[i]; i++) {
            const char *v = fcgi_conn_param(c, s->lookup[i]);
            s->found[i] = v ? strdup(v) : NULL;
        }
        for (char *const *e = fcgi_conn_envp(c); e && *e; e++, s->env_count++)
            put(&s->env, *e, strlen(*e) + 1);
        serve_body(s);
        unsigned char piece[1000];
        for (size_t off = 0; off < s->answer_len; off += sizeof(piece)) {
            size_t n = s->answer_len - off < sizeof(piece) ? s->answer_len - off : sizeof(piece);
            for (size_t i = 0; i < n; i++)
                piece[i] = answer_byte(off + i);
            fcgi_conn_write(c, piece, n);
        }
        s->rc_finish = fcgi_conn_finish(c, s->io_ms);
        s->keep = fcgi_conn_keep(c);
        if (s->rc_finish == 0 && s->keep)
            s->rc_after = fcgi_conn_next_request(c, s->io_ms);
    }
    s->finished = true;
}

/* The peer's part of a turn: send what the socket takes of what is
 * queued (then shut its sending side, if asked), read what came. */
static void peer_io(struct session *s)
{
    while (s->sent < s->to_send.len) {
        ssize_t n = send(s->fd[1], s->to_send.p + s->sent, s->to_send.len - s->sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0)
            break;
        s->sent += (size_t)n;
    }
    if (s->shut_when_sent && !s->shut && s->sent == s->to_send.len) {
        assert_int_equal(shutdown(s->fd[1], SHUT_WR), 0);
        s->shut = true;
    }
    unsigned char buf[16384];
    ssize_t n;
    while ((n = recv(s->fd[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        put(&s->got, buf, (size_t)n);
}

/* Send what is queued and start the coroutine. */
static void session_start(struct session *s)
{
    peer_io(s);
    s->co = coro_new(serve, s, STACK_SIZE);
    assert_non_null(s->co);
    coro_resume(s->co);
    peer_io(s);
}

/* Turn the loop (and the peer) until the coroutine has finished or
 * `turns` turns have passed. */
static void session_turns(struct session *s, int turns)
{
    for (int i = 0; i < turns && !s->finished; i++) {
        assert_int_equal(loop_turn(10), 0);
        peer_io(s);
    }
}

static void session_run(struct session *s)
{
    session_turns(s, MAX_TURNS);
    if (!s->finished)
        fail_msg("the coroutine has not finished after %d turns", MAX_TURNS);
}

/* A record the peer read. */
struct rec {
    unsigned type, id;
    const unsigned char *content;
    size_t len;
};

#define MAX_RECS 16

/* Split what the peer read into records: each of version 1, whole, with
 * no bytes left over. Returns how many. */
static size_t split_records(const struct bytes *got, struct rec *out)
{
    size_t pos = 0, n = 0;
    while (pos < got->len) {
        assert_true(got->len - pos >= FCGI_HEADER_LEN);
        const unsigned char *h = got->p + pos;
        assert_int_equal(h[0], FCGI_VERSION);
        size_t len = (size_t)h[4] << 8 | h[5];
        assert_true(got->len - pos - FCGI_HEADER_LEN >= len + h[6]);
        assert_true(n < MAX_RECS);
        out[n++] = (struct rec){h[1], (unsigned)h[2] << 8 | h[3], h + FCGI_HEADER_LEN, len};
        pos += FCGI_HEADER_LEN + len + h[6];
    }
    return n;
}

static void expect_end(const struct rec *r, unsigned id, unsigned status)
{
    const unsigned char body[8] = {0, 0, 0, 0, (unsigned char)status, 0, 0, 0};
    assert_int_equal(r->type, FCGI_END_REQUEST);
    assert_int_equal(r->id, id);
    assert_int_equal(r->len, sizeof(body));
    assert_memory_equal(r->content, body, sizeof(body));
}

/* Records recs[*i..] are the answer to request id: STDOUT records whose
 * contents make the session's answer, an empty one, END_REQUEST with
 * REQUEST_COMPLETE. Advances *i past them; returns how many STDOUT
 * records carried the answer. */
static size_t expect_answer(const struct session *s, const struct rec *recs, size_t n, size_t *i,
                            unsigned id)
{
    size_t off = 0, records = 0;
    for (; *i < n && recs[*i].type == FCGI_STDOUT && recs[*i].len > 0; (*i)++, records++) {
        const struct rec *r = &recs[*i];
        assert_int_equal(r->id, id);
        assert_true(r->len <= FCGI_CONTENT_MAX);
        assert_true(off + r->len <= s->answer_len);
        for (size_t k = 0; k < r->len; k++)
            if (r->content[k] != answer_byte(off + k))
                fail_msg("answer byte %zu differs", off + k);
        off += r->len;
    }
    assert_int_equal(off, s->answer_len);
    assert_true(*i + 2 <= n);
    assert_int_equal(recs[*i].type, FCGI_STDOUT);
    assert_int_equal(recs[*i].id, id);
    assert_int_equal(recs[*i].len, 0);
    expect_end(&recs[*i + 1], id, FCGI_REQUEST_COMPLETE);
    *i += 2;
    return records;
}

/* The session's one answer, and nothing else, to request id. */
static void expect_only_answer(const struct session *s, unsigned id)
{
    struct rec recs[MAX_RECS];
    size_t n = split_records(&s->got, recs), i = 0;
    expect_answer(s, recs, n, &i, id);
    assert_int_equal(i, n);
}

/* The parameters the tests send, and the "NAME=value" strings of them. */
static void put_params(struct bytes *params, struct bytes *strings)
{
    put_pair(params, strings, "REQUEST_METHOD", "POST");
    put_pair(params, strings, "SCRIPT_NAME", "/login");
    put_pair(params, strings, "CONTENT_LENGTH", "11");
}

static void expect_params(const struct session *s)
{
    struct bytes params = {0}, strings = {0};
    put_params(&params, &strings);
    assert_int_equal(s->env_count, 3);
    assert_int_equal(s->env.len, strings.len);
    assert_memory_equal(s->env.p, strings.p, strings.len);
    free(params.p);
    free(strings.p);
}

/* The request of test_full_request: parameters in two records, split
 * inside the 4-byte value length of X_SPLIT; padding; a body in two STDIN
 * records. *strings gets the parameters as fcgi_conn should list them. */
static void put_split_request(struct bytes *b, unsigned id, struct bytes *strings)
{
    char long_value[201];
    memset(long_value, 'v', 200);
    long_value[200] = '\0';
    struct bytes params = {0};
    put_pair(&params, strings, "REQUEST_METHOD", "POST");
    put_pair(&params, strings, "SCRIPT_NAME", "/login");
    size_t split = params.len + 1 + 2; /* name length, then half the value's */
    put_pair(&params, strings, "X_SPLIT", long_value);
    put_pair(&params, strings, "CONTENT_LENGTH", "11");
    put_begin(b, id, FCGI_RESPONDER, true);
    put_record(b, FCGI_PARAMS, id, params.p, split, 5);
    put_record(b, FCGI_PARAMS, id, params.p + split, params.len - split, 0);
    put_record(b, FCGI_PARAMS, id, NULL, 0, 0);
    put_record(b, FCGI_STDIN, id, "hello ", 6, 2);
    put_record(b, FCGI_STDIN, id, "world", 5, 0);
    put_record(b, FCGI_STDIN, id, NULL, 0, 0);
    free(params.p);
}

static void test_full_request(void **state)
{
    (void)state;
    struct session s;
    session_open(&s);
    struct bytes strings = {0};
    put_split_request(&s.to_send, 0x0102, &strings);
    s.answer_len = BIG_ANSWER;
    const char *lookup[LOOKUPS] = {"REQUEST_METHOD", "X_SPLIT", "REQUEST", "NOT_THERE"};
    memcpy(s.lookup, lookup, sizeof(lookup));
    session_start(&s);
    session_run(&s);

    assert_int_equal(s.rc_next, 1);
    assert_string_equal(s.found[0], "POST");
    assert_non_null(s.found[1]);
    assert_int_equal(strlen(s.found[1]), 200);
    assert_int_equal(strspn(s.found[1], "v"), 200);
    assert_null(s.found[2]); /* a prefix of a name is not the name */
    assert_null(s.found[3]);
    assert_int_equal(s.env_count, 4);
    assert_int_equal(s.env.len, strings.len);
    assert_memory_equal(s.env.p, strings.p, strings.len);
    assert_int_equal(s.body.len, 11);
    assert_memory_equal(s.body.p, "hello world", 11);
    assert_int_equal(s.rc_body, 0);
    assert_int_equal(s.rc_body_again, 0);
    assert_int_equal(s.rc_finish, 0);
    assert_true(s.keep);
    assert_int_equal(s.rc_after, 0); /* nothing more was sent: idle */

    struct rec recs[MAX_RECS];
    size_t n = split_records(&s.got, recs), i = 0;
    assert_true(expect_answer(&s, recs, n, &i, 0x0102) >= 2);
    assert_int_equal(i, n);
    free(strings.p);
    session_close(&s);
}

static void test_management_records(void **state)
{
    (void)state;
    struct session s;
    session_open(&s);
    struct bytes ask = {0}, want = {0}, params = {0};
    put_pair(&ask, NULL, "FCGI_MAX_CONNS", "");
    put_pair(&ask, NULL, "FCGI_OTHER", "");
    put_pair(&ask, NULL, "FCGI_MPXS_CONNS", "");
    put_record(&s.to_send, FCGI_GET_VALUES, 0, ask.p, ask.len, 3);
    put_record(&s.to_send, 20, 0, "xy", 2, 1); /* a management type nobody knows */
    put_begin(&s.to_send, 5, 2 /* AUTHORIZER */, true);
    put_params(&params, NULL);
    put_request(&s.to_send, 6, true, &params, "");
    session_start(&s);
    session_run(&s);

    assert_int_equal(s.rc_next, 1);
    expect_params(&s);
    struct rec recs[MAX_RECS];
    size_t n = split_records(&s.got, recs), i = 0;
    assert_true(n >= 3);
    put_pair(&want, NULL, "FCGI_MAX_CONNS", "1024");
    put_pair(&want, NULL, "FCGI_MPXS_CONNS", "0");
    assert_int_equal(recs[0].type, FCGI_GET_VALUES_RESULT);
    assert_int_equal(recs[0].id, 0);
    assert_int_equal(recs[0].len, want.len);
    assert_memory_equal(recs[0].content, want.p, want.len);
    const unsigned char unknown[8] = {20};
    assert_int_equal(recs[1].type, FCGI_UNKNOWN_TYPE);
    assert_int_equal(recs[1].id, 0);
    assert_int_equal(recs[1].len, 8);
    assert_memory_equal(recs[1].content, unknown, 8);
    expect_end(&recs[2], 5, FCGI_UNKNOWN_ROLE);
    i = 3;
    expect_answer(&s, recs, n, &i, 6);
    assert_int_equal(i, n);
    free(ask.p);
    free(want.p);
    free(params.p);
    session_close(&s);
}

static void test_second_begin_refused(void **state)
{
    (void)state;
    struct session s;
    session_open(&s);
    struct bytes params = {0};
    put_params(&params, NULL);
    size_t half = params.len / 2;
    put_begin(&s.to_send, 1, FCGI_RESPONDER, true);
    put_record(&s.to_send, FCGI_PARAMS, 1, params.p, half, 0);
    put_begin(&s.to_send, 2, FCGI_RESPONDER, true);
    put_record(&s.to_send, FCGI_PARAMS, 2, "\1\1BX", 4, 0); /* not the open request's */
    put_record(&s.to_send, FCGI_PARAMS, 1, params.p + half, params.len - half, 0);
    put_record(&s.to_send, FCGI_PARAMS, 1, NULL, 0, 0);
    put_record(&s.to_send, FCGI_STDIN, 1, "hello ", 6, 0);
    put_begin(&s.to_send, 3, FCGI_RESPONDER, false); /* while the body is read */
    put_record(&s.to_send, FCGI_STDIN, 3, "XX", 2, 0);
    put_record(&s.to_send, FCGI_STDIN, 1, "world", 5, 0);
    put_record(&s.to_send, FCGI_STDIN, 1, NULL, 0, 0);
    session_start(&s);
    session_run(&s);

    assert_int_equal(s.rc_next, 1);
    expect_params(&s);
    assert_int_equal(s.body.len, 11);
    assert_memory_equal(s.body.p, "hello world", 11);
    assert_int_equal(s.rc_body, 0);
    struct rec recs[MAX_RECS];
    size_t n = split_records(&s.got, recs), i = 2;
    assert_true(n >= 2);
    expect_end(&recs[0], 2, FCGI_CANT_MPX_CONN);
    expect_end(&recs[1], 3, FCGI_CANT_MPX_CONN);
    expect_answer(&s, recs, n, &i, 1);
    assert_int_equal(i, n);
    free(params.p);
    session_close(&s);
}

/* The request is sent in two writes, cut at `cut`, with turns of the
 * loop between them: the server waits for the rest and serves it. */
static void split_write(const struct bytes *all, size_t cut)
{
    struct session s;
    session_open(&s);
    put(&s.to_send, all->p, cut);
    session_start(&s);
    session_turns(&s, PAUSE_TURNS);
    if (s.finished)
        fail_msg("cut at %zu of %zu: the server did not wait (next_request %d, body %ld)", cut,
                 all->len, s.rc_next, s.rc_body);
    assert_int_equal(s.got.len, 0);
    put(&s.to_send, all->p + cut, all->len - cut);
    session_run(&s);
    assert_int_equal(s.rc_next, 1);
    expect_params(&s);
    assert_int_equal(s.body.len, 11);
    assert_memory_equal(s.body.p, "hello world", 11);
    assert_int_equal(s.rc_body, 0);
    assert_int_equal(s.rc_finish, 0);
    assert_int_equal(s.rc_after, 0);
    expect_only_answer(&s, 7);
    session_close(&s);
}

static void test_split_write_waits(void **state)
{
    (void)state;
    struct bytes all = {0}, params = {0};
    put_params(&params, NULL);
    put_request(&all, 7, true, &params, "hello world");
    const size_t cuts[] = {
        3,                                    /* in BEGIN_REQUEST's header */
        2 * FCGI_HEADER_LEN + 4,              /* in the PARAMS record's header */
        3 * FCGI_HEADER_LEN + params.len / 2, /* in the parameters */
        3 * FCGI_HEADER_LEN + params.len,     /* before the empty PARAMS: not complete yet */
        4 * FCGI_HEADER_LEN + params.len,     /* after it: the body waits */
        all.len - 1,                          /* in the last STDIN: the body waits */
    };
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
        split_write(&all, cuts[k]);
    free(all.p);
    free(params.p);
}

static void test_bad_version(void **state)
{
    (void)state;
    struct bytes all = {0}, params = {0};
    put_params(&params, NULL);
    put_request(&all, 1, true, &params, "");
    /* In the first record, then in the second (a request open). */
    const size_t at[] = {0, 2 * FCGI_HEADER_LEN};
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        struct session s;
        session_open(&s);
        put(&s.to_send, all.p, all.len);
        s.to_send.p[at[k]] = 2;
        session_start(&s);
        session_run(&s);
        assert_int_equal(s.rc_next, -1);
        assert_int_equal(s.got.len, 0);
        session_close(&s);
    }
    free(all.p);
    free(params.p);
}

/* Parameters of exactly `total` bytes: one pair BIG=<value>, sent in
 * records as long as they go. */
static void params_of_size(size_t total, int want_rc)
{
    struct session s;
    session_open(&s);
    size_t value_len = total - (1 + 4 + 3);
    char *value = malloc(value_len + 1);
    assert_non_null(value);
    memset(value, 'b', value_len);
    value[value_len] = '\0';
    struct bytes params = {0};
    put_pair(&params, NULL, "BIG", value);
    assert_int_equal(params.len, total);
    put_begin(&s.to_send, 1, FCGI_RESPONDER, true);
    for (size_t off = 0; off < params.len; off += FCGI_CONTENT_MAX) {
        size_t n = params.len - off < FCGI_CONTENT_MAX ? params.len - off : FCGI_CONTENT_MAX;
        put_record(&s.to_send, FCGI_PARAMS, 1, params.p + off, n, 0);
    }
    put_record(&s.to_send, FCGI_PARAMS, 1, NULL, 0, 0);
    put_record(&s.to_send, FCGI_STDIN, 1, NULL, 0, 0);
    s.lookup[0] = "BIG";
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, want_rc);
    if (want_rc == 1) {
        assert_non_null(s.found[0]);
        assert_string_equal(s.found[0], value);
        expect_only_answer(&s, 1);
    } else {
        assert_int_equal(s.got.len, 0);
    }
    free(value);
    free(params.p);
    session_close(&s);
}

static void test_params_limit(void **state)
{
    (void)state;
    params_of_size(FCGI_PARAMS_MAX, 1);
    params_of_size(FCGI_PARAMS_MAX + 1, -1);
}

static void test_peer_gone_mid_record(void **state)
{
    (void)state;
    struct bytes params = {0};
    put_params(&params, NULL);
    const unsigned char header_20[FCGI_HEADER_LEN] = {FCGI_VERSION, FCGI_PARAMS, 0, 1, 0, 20};
    const unsigned char stdin_10[FCGI_HEADER_LEN] = {FCGI_VERSION, FCGI_STDIN, 0, 1, 0, 10};

    /* Closed before a byte: the connection is over. */
    struct session s;
    session_open(&s);
    s.shut_when_sent = true;
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, -1);
    session_close(&s);

    /* Closed, then silent, inside a PARAMS record (5 of its 20 bytes). */
    for (int silent = 0; silent <= 1; silent++) {
        session_open(&s);
        put_begin(&s.to_send, 1, FCGI_RESPONDER, true);
        put(&s.to_send, header_20, sizeof(header_20));
        put(&s.to_send, params.p, 5);
        s.shut_when_sent = !silent;
        s.io_ms = silent ? 50 : IO_MS;
        session_start(&s);
        session_run(&s);
        assert_int_equal(s.rc_next, -1);
        assert_int_equal(s.got.len, 0);
        session_close(&s);
    }

    /* Closed inside a STDIN record: the body fails, the answer still goes
     * out (the peer only shut its sending side), the connection is not
     * kept. */
    session_open(&s);
    put_head(&s.to_send, 1, true, &params);
    put_record(&s.to_send, FCGI_STDIN, 1, "hel", 3, 0);
    put(&s.to_send, stdin_10, sizeof(stdin_10));
    put(&s.to_send, "lo", 2);
    s.shut_when_sent = true;
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, 1);
    assert_int_equal(s.rc_body, -1);
    assert_int_equal(s.body.len, 3);
    assert_int_equal(s.rc_finish, 0);
    assert_false(s.keep);
    expect_only_answer(&s, 1);
    session_close(&s);
    free(params.p);
}

/* Records that break the protocol, each after a BEGIN_REQUEST (or as the
 * first record): the connection ends, nothing is answered. */
static void test_malformed_records(void **state)
{
    (void)state;
    static const struct {
        unsigned type, id;
        const char *content;
        size_t len;
    } cases[] = {
        {FCGI_BEGIN_REQUEST, 1, "\0\1\1\0\0\0\0", 7}, /* body of 7 bytes */
        {FCGI_PARAMS, 1, "\3\5abchel", 8},            /* the value runs past the end */
        {FCGI_PARAMS, 1, "\1\x80\0\0", 4},            /* a 4-byte length cut short */
        {FCGI_GET_VALUES, 0, "\x0e", 1},              /* its names too */
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct session s;
        session_open(&s);
        if (cases[k].type != FCGI_BEGIN_REQUEST)
            put_begin(&s.to_send, 1, FCGI_RESPONDER, true);
        put_record(&s.to_send, cases[k].type, cases[k].id, cases[k].content, cases[k].len, 0);
        if (cases[k].type == FCGI_PARAMS)
            put_record(&s.to_send, FCGI_PARAMS, 1, NULL, 0, 0);
        session_start(&s);
        session_run(&s);
        if (s.rc_next != -1 || s.got.len != 0)
            fail_msg("case %zu: next_request %d, %zu bytes answered", k, s.rc_next, s.got.len);
        session_close(&s);
    }
}

static void test_abort(void **state)
{
    (void)state;
    struct bytes params = {0};
    put_params(&params, NULL);

    /* While the parameters come: END_REQUEST, and the next request is
     * served on the kept connection. */
    struct session s;
    session_open(&s);
    put_begin(&s.to_send, 4, FCGI_RESPONDER, true);
    put_record(&s.to_send, FCGI_PARAMS, 4, params.p, 5, 0);
    put_record(&s.to_send, FCGI_ABORT_REQUEST, 4, NULL, 0, 0);
    put_request(&s.to_send, 5, true, &params, "");
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, 1);
    expect_params(&s);
    struct rec recs[MAX_RECS];
    size_t n = split_records(&s.got, recs), i = 1;
    assert_true(n >= 1);
    expect_end(&recs[0], 4, FCGI_REQUEST_COMPLETE);
    expect_answer(&s, recs, n, &i, 5);
    assert_int_equal(i, n);
    session_close(&s);

    /* While the body is read: the read fails, the answer still goes out,
     * and the connection stays kept (the rest of the request was sent). */
    session_open(&s);
    put_head(&s.to_send, 6, true, &params);
    put_record(&s.to_send, FCGI_STDIN, 6, "hel", 3, 0);
    put_record(&s.to_send, FCGI_ABORT_REQUEST, 6, NULL, 0, 0);
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, 1);
    assert_int_equal(s.rc_body, -1);
    assert_int_equal(s.body.len, 3);
    assert_int_equal(s.rc_finish, 0);
    assert_true(s.keep);
    assert_int_equal(s.rc_after, 0);
    expect_only_answer(&s, 6);
    session_close(&s);
    free(params.p);
}

static void test_keep_conn(void **state)
{
    (void)state;
    static const struct {
        bool keep_flag;
        size_t body_max; /* bytes of the 11-byte body the handler reads */
        bool kept;
    } cases[] = {
        {true, SIZE_MAX, true}, /* all read */
        {true, 11, false},      /* all bytes, but not the end of the body */
        {true, 1, false},
        {true, 0, false},
        {false, SIZE_MAX, false}, /* not asked */
    };
    struct bytes params = {0};
    put_params(&params, NULL);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct session s;
        session_open(&s);
        put_request(&s.to_send, 3, cases[k].keep_flag, &params, "hello world");
        s.body_max = cases[k].body_max;
        session_start(&s);
        session_run(&s);
        assert_int_equal(s.rc_next, 1);
        assert_int_equal(s.rc_finish, 0);
        if (s.keep != cases[k].kept)
            fail_msg("case %zu: keep %d, want %d", k, s.keep, cases[k].kept);
        assert_int_equal(s.rc_after, cases[k].kept ? 0 : NOT_RUN);
        expect_only_answer(&s, 3);
        session_close(&s);
    }
    free(params.p);
}

/* nginx sends a request and closes its side, and the loop reports both
 * before the worker reads: the request is answered, and the next read
 * sees the end of the stream instead of taking the connection for idle
 * (a short read empties the data, not the peer's close). */
static void test_close_reported_before_read(void **state)
{
    (void)state;
    struct bytes params = {0};
    put_params(&params, NULL);
    struct session s;
    session_open(&s);
    put_request(&s.to_send, 4, true, &params, "");
    s.shut_when_sent = true;
    peer_io(&s);
    assert_true(s.shut);
    assert_int_equal(loop_turn(0), 0); /* the event, before any read */
    session_start(&s);
    session_run(&s);
    assert_int_equal(s.rc_next, 1);
    assert_int_equal(s.rc_finish, 0);
    assert_true(s.keep);
    assert_int_equal(s.rc_after, -1);
    expect_only_answer(&s, 4);
    session_close(&s);
    free(params.p);
}

int main(void)
{
    log_init("test_fcgi_conn", "error"); /* the refusals log warnings */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_request),
        cmocka_unit_test(test_management_records),
        cmocka_unit_test(test_second_begin_refused),
        cmocka_unit_test(test_split_write_waits),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_params_limit),
        cmocka_unit_test(test_peer_gone_mid_record),
        cmocka_unit_test(test_keep_conn),
        cmocka_unit_test(test_close_reported_before_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
