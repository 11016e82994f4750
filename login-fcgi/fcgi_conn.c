/* fcgi_conn.c -- a FastCGI connection read and written by its worker
 * coroutine (see fcgi_conn.h).
 *
 * Input is read into one buffer that holds at least a whole record
 * (FCGI_RECORD_MAX); a record is handled once it is complete. The body
 * of a STDIN record is handed out from that buffer, so the buffer is only
 * compacted when the next record is needed. The answer is written into
 * STDOUT records as it comes and sent in one go by fcgi_conn_finish(),
 * followed by END_REQUEST. */
#include "fcgi_conn.h"

#include "fcgi_proto.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_CAP FCGI_RECORD_MAX
#define NO_RECORD SIZE_MAX
#define OUT_KEEP_MAX (64 * 1024) /* answer buffers larger than this are freed after use */

void fcgi_conn_init(struct fcgi_conn *c, int fd, struct loop_watch *watch)
{
    *c = (struct fcgi_conn){.fd = fd, .watch = watch, .out_record = NO_RECORD};
}

void fcgi_conn_event(struct fcgi_conn *c, uint32_t events)
{
    c->drained = false;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->peer_closed = true;
    loop_wake(&c->sleeper);
}

static void forget_params(struct fcgi_conn *c)
{
    free(c->strings);
    free(c->envp);
    c->strings = NULL;
    c->envp = NULL;
    c->params_len = 0;
}

void fcgi_conn_release(struct fcgi_conn *c)
{
    forget_params(c);
    free(c->params_raw);
    free(c->in);
    free(c->out);
    c->params_raw = c->in = c->out = NULL;
}

/* Sleep until the socket may be ready. Returns -1 when the time ran out. */
static int wait_socket(struct fcgi_conn *c, int timeout_ms)
{
    if (!loop_sleep(&c->sleeper, timeout_ms)) {
        log_debug("fastcgi fd %d: silent for %d ms", c->fd, timeout_ms);
        return -1;
    }
    return 0;
}

/* Wait until the socket takes more: EPOLLOUT is watched only meanwhile. */
static int wait_writable(struct fcgi_conn *c, int timeout_ms)
{
    if (loop_watch_modify(c->fd, FCGI_CONN_EVENTS | EPOLLOUT, c->watch) < 0)
        return -1;
    int rc = wait_socket(c, timeout_ms);
    if (loop_watch_modify(c->fd, FCGI_CONN_EVENTS, c->watch) < 0)
        return -1;
    return rc;
}

static int send_all(struct fcgi_conn *c, const unsigned char *p, size_t len, int timeout_ms)
{
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_writable(c, timeout_ms) < 0)
                return -1;
        } else if (n < 0 && errno != EINTR) {
            log_debug("fastcgi fd %d: send: %s", c->fd, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Read more input. Returns 1 when bytes came, 0 when none are waiting, -1
 * when the peer closed or the socket failed. After a short read the socket
 * is empty: no read until the next event (fcgi_conn_event()), since the
 * edge-triggered watch reports every arrival after it. Not so once the peer
 * closed: its end of stream may have been reported before the data was
 * read, and stays to be read. */
static int fill(struct fcgi_conn *c)
{
    if (c->drained && !c->peer_closed)
        return 0;
    if (!c->in)
        c->in = xmalloc(IN_CAP);
    if (c->in_off > 0 && (c->in_off == c->in_len || IN_CAP - c->in_off < FCGI_RECORD_MAX)) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    for (;;) {
        size_t room = IN_CAP - c->in_len;
        ssize_t n = read(c->fd, c->in + c->in_len, room);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->drained = (size_t)n < room;
            return 1;
        }
        if (n == 0)
            return -1;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->drained = true;
            return 0;
        }
        if (errno != EINTR) {
            log_debug("fastcgi fd %d: read: %s", c->fd, strerror(errno));
            return -1;
        }
    }
}

/* The next whole record. With idle_ok, returns 0 when no byte of one is
 * waiting; otherwise waits for it. Returns 1 with *h and *content, -1 when
 * the connection must be closed. */
static int next_record(struct fcgi_conn *c, struct fcgi_header *h, const unsigned char **content,
                       bool idle_ok, int timeout_ms)
{
    for (;;) {
        size_t avail = c->in_len - c->in_off;
        if (avail >= FCGI_HEADER_LEN) {
            fcgi_header_decode(c->in + c->in_off, h);
            if (h->version != FCGI_VERSION) {
                log_warn("fastcgi fd %d: record of version %u: closing", c->fd, h->version);
                return -1;
            }
            size_t need = FCGI_HEADER_LEN + h->content_length + h->padding_length;
            if (avail >= need) {
                *content = c->in + c->in_off + FCGI_HEADER_LEN;
                c->in_off += need;
                return 1;
            }
        }
        int got = fill(c);
        if (got < 0)
            return -1;
        if (got == 0 && avail == 0 && idle_ok)
            return 0;
        if (got == 0 && wait_socket(c, timeout_ms) < 0)
            return -1;
    }
}

/* Answer GET_VALUES with what we know of the names asked. */
static int get_values(struct fcgi_conn *c, const unsigned char *content, size_t len,
                      int timeout_ms)
{
    unsigned char out[FCGI_HEADER_LEN + 256];
    size_t used = 0, pos = 0;
    struct fcgi_pair pair;
    int rc;
    char max_conns[16];
    snprintf(max_conns, sizeof(max_conns), "%d", FCGI_MAX_CONNS);
    const char *known[][2] = {
        {"FCGI_MAX_CONNS", max_conns}, {"FCGI_MAX_REQS", max_conns}, {"FCGI_MPXS_CONNS", "0"}};
    while ((rc = fcgi_pair_next(content, len, &pos, &pair)) > 0)
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (pair.name_len == strlen(known[i][0]) &&
                memcmp(pair.name, known[i][0], pair.name_len) == 0)
                fcgi_pair_encode(out + FCGI_HEADER_LEN, sizeof(out) - FCGI_HEADER_LEN, &used,
                                 known[i][0], known[i][1]);
    if (rc < 0) {
        log_warn("fastcgi fd %d: malformed GET_VALUES: closing", c->fd);
        return -1;
    }
    fcgi_header_encode(out, FCGI_GET_VALUES_RESULT, 0, used, 0);
    return send_all(c, out, FCGI_HEADER_LEN + used, timeout_ms);
}

static int end_request(struct fcgi_conn *c, unsigned id, enum fcgi_protocol_status status,
                       int timeout_ms)
{
    unsigned char rec[FCGI_END_RECORD_LEN];
    fcgi_end_encode(rec, id, 0, status);
    return send_all(c, rec, sizeof(rec), timeout_ms);
}

/* A record that is not the next piece of the open request: management
 * records are answered, a second BEGIN_REQUEST refused, the rest (records
 * of requests no longer open) skipped. Returns -1 to close. */
static int other_record(struct fcgi_conn *c, const struct fcgi_header *h,
                        const unsigned char *content, int timeout_ms)
{
    if (h->request_id == 0 && h->type == FCGI_GET_VALUES)
        return get_values(c, content, h->content_length, timeout_ms);
    if (h->request_id == 0) {
        unsigned char rec[FCGI_UNKNOWN_RECORD_LEN];
        fcgi_unknown_encode(rec, h->type);
        return send_all(c, rec, sizeof(rec), timeout_ms);
    }
    if (h->type == FCGI_BEGIN_REQUEST)
        return end_request(c, h->request_id, FCGI_CANT_MPX_CONN, timeout_ms);
    return 0;
}

/* BEGIN_REQUEST with no request open. Returns 0, or -1 to close. */
static int begin_request(struct fcgi_conn *c, const struct fcgi_header *h,
                         const unsigned char *content, int timeout_ms)
{
    unsigned role, flags;
    if (fcgi_begin_decode(content, h->content_length, &role, &flags) < 0) {
        log_warn("fastcgi fd %d: BEGIN_REQUEST of %u bytes: closing", c->fd, h->content_length);
        return -1;
    }
    if (role != FCGI_RESPONDER) {
        if (end_request(c, h->request_id, FCGI_UNKNOWN_ROLE, timeout_ms) < 0)
            return -1;
        return flags & FCGI_KEEP_CONN ? 0 : -1;
    }
    c->request_id = h->request_id;
    c->keep_conn = flags & FCGI_KEEP_CONN;
    c->params_done = c->body_done = c->aborted = false;
    c->params_len = 0;
    c->body_len = 0;
    return 0;
}

static int append_params(struct fcgi_conn *c, const unsigned char *content, size_t len)
{
    if (len > FCGI_PARAMS_MAX - c->params_len) {
        log_warn("fastcgi fd %d: parameters over %d bytes: closing", c->fd, FCGI_PARAMS_MAX);
        return -1;
    }
    if (c->params_len + len > c->params_cap) {
        c->params_cap = c->params_len + len > 8192 ? c->params_len + len : 8192;
        c->params_raw = xrealloc(c->params_raw, c->params_cap);
    }
    memcpy(c->params_raw + c->params_len, content, len);
    c->params_len += len;
    return 0;
}

/* Turn the parameters into "NAME=value" strings. Each pair takes at
 * least two length bytes, so the strings fit in params_len + 1 bytes. */
static int parse_params(struct fcgi_conn *c)
{
    size_t pos = 0, n = 0;
    struct fcgi_pair pair;
    int rc;
    while ((rc = fcgi_pair_next(c->params_raw, c->params_len, &pos, &pair)) > 0)
        n++;
    if (rc < 0) {
        log_warn("fastcgi fd %d: malformed parameters: closing", c->fd);
        return -1;
    }
    size_t len = c->params_len;
    forget_params(c);
    c->strings = xmalloc(len + 1);
    c->envp = xcalloc(n + 1, sizeof(*c->envp));
    char *s = c->strings;
    pos = 0;
    for (size_t i = 0; fcgi_pair_next(c->params_raw, len, &pos, &pair) > 0; i++) {
        c->envp[i] = s;
        memcpy(s, pair.name, pair.name_len);
        s += pair.name_len;
        *s++ = '=';
        memcpy(s, pair.value, pair.value_len);
        s += pair.value_len;
        *s++ = '\0';
    }
    c->params_len = len;
    return 0;
}

/* A record of the open request, before its parameters are complete.
 * Returns 1 when they are, 0 to read on, -1 to close. */
static int params_record(struct fcgi_conn *c, const struct fcgi_header *h,
                         const unsigned char *content, int timeout_ms)
{
    if (h->type == FCGI_ABORT_REQUEST) {
        c->request_id = 0;
        if (end_request(c, h->request_id, FCGI_REQUEST_COMPLETE, timeout_ms) < 0)
            return -1;
        return c->keep_conn ? 0 : -1;
    }
    if (h->type != FCGI_PARAMS)
        return other_record(c, h, content, timeout_ms);
    if (h->content_length > 0)
        return append_params(c, content, h->content_length);
    c->params_done = true;
    return parse_params(c) < 0 ? -1 : 1;
}

int fcgi_conn_next_request(struct fcgi_conn *c, int timeout_ms)
{
    for (;;) {
        struct fcgi_header h;
        const unsigned char *content;
        int rc = next_record(c, &h, &content, c->request_id == 0, timeout_ms);
        if (rc <= 0)
            return rc;
        if (c->request_id == 0 && h.type == FCGI_BEGIN_REQUEST && h.request_id != 0)
            rc = begin_request(c, &h, content, timeout_ms);
        else if (c->request_id != 0 && h.request_id == c->request_id)
            rc = params_record(c, &h, content, timeout_ms);
        else
            rc = other_record(c, &h, content, timeout_ms);
        if (rc != 0)
            return rc;
    }
}

const char *fcgi_conn_param(const struct fcgi_conn *c, const char *name)
{
    size_t n = strlen(name);
    for (char **e = c->envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

char *const *fcgi_conn_envp(const struct fcgi_conn *c)
{
    return c->envp;
}

/* Wait for the next STDIN record of the open request. Returns 1 with
 * body bytes, 0 at the end of the body, -1 when aborted or failed. */
static int next_body_record(struct fcgi_conn *c, int timeout_ms)
{
    while (c->body_len == 0) {
        struct fcgi_header h;
        const unsigned char *content;
        if (next_record(c, &h, &content, false, timeout_ms) <= 0)
            return -1;
        if (h.request_id != c->request_id) {
            if (other_record(c, &h, content, timeout_ms) < 0)
                return -1;
        } else if (h.type == FCGI_ABORT_REQUEST) {
            c->aborted = true;
            return -1;
        } else if (h.type == FCGI_STDIN && h.content_length == 0) {
            c->body_done = true;
            return 0;
        } else if (h.type == FCGI_STDIN) {
            c->body = content;
            c->body_len = h.content_length;
        }
    }
    return 1;
}

long fcgi_conn_read_body(struct fcgi_conn *c, void *buf, size_t len, int timeout_ms)
{
    if (c->aborted || c->request_id == 0)
        return -1;
    if (c->body_done || len == 0)
        return 0;
    int rc = next_body_record(c, timeout_ms);
    if (rc <= 0)
        return rc;
    size_t n = len < c->body_len ? len : c->body_len;
    memcpy(buf, c->body, n);
    c->body += n;
    c->body_len -= n;
    return (long)n;
}

static void out_reserve(struct fcgi_conn *c, size_t more)
{
    if (c->out_len + more <= c->out_cap)
        return;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + more)
        cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->out_cap = cap;
}

static void close_stdout_record(struct fcgi_conn *c)
{
    if (c->out_record == NO_RECORD)
        return;
    size_t len = c->out_len - c->out_record - FCGI_HEADER_LEN;
    fcgi_header_encode(c->out + c->out_record, FCGI_STDOUT, c->request_id, len, 0);
    c->out_record = NO_RECORD;
}

void fcgi_conn_write(struct fcgi_conn *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        if (c->out_record != NO_RECORD &&
            c->out_len - c->out_record - FCGI_HEADER_LEN == FCGI_CONTENT_MAX)
            close_stdout_record(c);
        if (c->out_record == NO_RECORD) {
            out_reserve(c, FCGI_HEADER_LEN);
            c->out_record = c->out_len;
            c->out_len += FCGI_HEADER_LEN;
        }
        size_t room = FCGI_CONTENT_MAX - (c->out_len - c->out_record - FCGI_HEADER_LEN);
        size_t n = len < room ? len : room;
        out_reserve(c, n);
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
        p += n;
        len -= n;
    }
}

int fcgi_conn_finish(struct fcgi_conn *c, int timeout_ms)
{
    close_stdout_record(c);
    out_reserve(c, FCGI_HEADER_LEN + FCGI_END_RECORD_LEN);
    fcgi_header_encode(c->out + c->out_len, FCGI_STDOUT, c->request_id, 0, 0);
    c->out_len += FCGI_HEADER_LEN;
    fcgi_end_encode(c->out + c->out_len, c->request_id, 0, FCGI_REQUEST_COMPLETE);
    c->out_len += FCGI_END_RECORD_LEN;
    int rc = send_all(c, c->out, c->out_len, timeout_ms);
    if (!c->body_done && !c->aborted)
        c->keep_conn = false; /* the rest of the body would be taken for the next request */
    c->request_id = 0;
    c->out_len = 0;
    c->body_len = 0;
    if (c->out_cap > OUT_KEEP_MAX) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return rc;
}

bool fcgi_conn_keep(const struct fcgi_conn *c)
{
    return c->keep_conn;
}
