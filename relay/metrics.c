/* metrics.c -- counters and the Prometheus text endpoint. */
#include "metrics.h"
#include "http_head.h"
#include "log.h"
#include "net.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define METRICS_REQ_MAX 4096
#define METRICS_TIMEOUT_MS 5000

struct metrics metrics;

struct mreq {
    struct mreq *next;
    int fd;
    size_t len;
    long long started_ms;
    char buf[METRICS_REQ_MAX];
};

static struct {
    struct loop *loop;
    int fd;
    struct mreq *reqs;
} ms = {.fd = -1};

void metrics_close(int code)
{
    if (code >= 1000 && code < 5000)
        metrics.closes[code]++;
}

void metrics_db_roundtrip(long long ms_)
{
    metrics.db_roundtrips++;
    metrics.db_roundtrip_seconds_sum += (double)ms_ / 1000.0;
}

struct text {
    char *buf;
    size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void add(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0);
        t->buf = xrealloc(t->buf, t->cap);
    }
}

char *metrics_render(size_t *len)
{
    struct text t = {xmalloc(4096), 0, 4096};
    const struct metrics *m = &metrics;
    add(&t, "# TYPE relay_connections gauge\nrelay_connections %lld\n", m->connections);
    add(&t, "# TYPE relay_rooms gauge\nrelay_rooms %lld\n", m->rooms);
    add(&t, "# TYPE relay_messages_in_total counter\nrelay_messages_in_total %llu\n",
        m->messages_in);
    add(&t, "# TYPE relay_messages_out_total counter\nrelay_messages_out_total %llu\n",
        m->messages_out);
    add(&t, "# TYPE relay_bytes_in_total counter\nrelay_bytes_in_total %llu\n", m->bytes_in);
    add(&t, "# TYPE relay_bytes_out_total counter\nrelay_bytes_out_total %llu\n", m->bytes_out);
    add(&t, "# TYPE relay_queue_overflows_total counter\nrelay_queue_overflows_total %llu\n",
        m->queue_overflows);
    add(&t, "# TYPE relay_closes_total counter\n");
    for (int code = 1000; code < 5000; code++)
        if (m->closes[code])
            add(&t, "relay_closes_total{code=\"%d\"} %llu\n", code, m->closes[code]);
    add(&t, "# TYPE relay_db_roundtrip_seconds summary\n");
    add(&t, "relay_db_roundtrip_seconds_sum %.6f\n", m->db_roundtrip_seconds_sum);
    add(&t, "relay_db_roundtrip_seconds_count %llu\n", m->db_roundtrips);
    add(&t, "# TYPE relay_db_up gauge\nrelay_db_up %d\n", m->db_up ? 1 : 0);
    *len = t.len;
    return t.buf;
}

static void mreq_free(struct mreq *r)
{
    struct mreq **pp = &ms.reqs;
    while (*pp && *pp != r)
        pp = &(*pp)->next;
    if (*pp)
        *pp = r->next;
    loop_unwatch(ms.loop, r->fd);
    close(r->fd);
    free(r);
}

/* Write all of buf (small answers on a fresh socket; gives up on EAGAIN). */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static void mreq_answer(struct mreq *r, size_t head_len)
{
    struct http_request *req = xmalloc(sizeof(*req));
    bool ok = http_head_parse(r->buf, head_len, req) == HTTP_HEAD_OK &&
              strcmp(req->method, "GET") == 0 && strcmp(req->path, "/metrics") == 0;
    free(req);
    char head[256];
    if (!ok) {
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n"
                         "Connection: close\r\n\r\nnot found\n";
        write_all(r->fd, nf, strlen(nf));
        return;
    }
    size_t blen;
    char *body = metrics_render(&blen);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     blen);
    write_all(r->fd, head, (size_t)n);
    write_all(r->fd, body, blen);
    free(body);
}

static void mreq_event(struct loop *loop, int fd, int mask, void *data)
{
    (void)loop, (void)mask;
    struct mreq *r = data;
    ssize_t n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        mreq_free(r);
        return;
    }
    size_t before = r->len;
    r->len += (size_t)n;
    size_t end = http_head_end(r->buf, r->len, before);
    if (end || r->len == sizeof(r->buf)) {
        if (end)
            mreq_answer(r, end);
        mreq_free(r);
    }
}

static void metrics_accept(struct loop *loop, int fd, int mask, void *data)
{
    (void)mask, (void)data;
    long long now = loop_now_ms();
    for (struct mreq *r = ms.reqs, *next; r; r = next) {
        next = r->next;
        if (now - r->started_ms > METRICS_TIMEOUT_MS)
            mreq_free(r);
    }
    for (int i = 0; i < 16; i++) {
        char peer[80];
        int cfd = net_accept(fd, peer, sizeof(peer));
        if (cfd < 0)
            return;
        struct mreq *r = xcalloc(1, sizeof(*r));
        r->fd = cfd;
        r->started_ms = now;
        if (loop_watch(loop, cfd, LOOP_READ, mreq_event, r) < 0) {
            close(cfd);
            free(r);
            continue;
        }
        r->next = ms.reqs;
        ms.reqs = r;
    }
}

int metrics_listen(struct loop *loop, const char *addr)
{
    ms.loop = loop;
    ms.fd = net_listen(addr);
    if (ms.fd < 0)
        return -1;
    if (loop_watch(loop, ms.fd, LOOP_READ, metrics_accept, NULL) < 0) {
        close(ms.fd);
        ms.fd = -1;
        return -1;
    }
    log_info("metrics: listening on %s", addr);
    return 0;
}

void metrics_shutdown(void)
{
    while (ms.reqs)
        mreq_free(ms.reqs);
    if (ms.fd >= 0) {
        loop_unwatch(ms.loop, ms.fd);
        close(ms.fd);
        ms.fd = -1;
    }
}
