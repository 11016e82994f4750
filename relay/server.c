/* server.c -- accepting, answering request heads, authenticating. */
#include "server.h"
#include "conn.h"
#include "crypto.h"
#include "handshake.h"
#include "log.h"
#include "msg.h"
#include "net.h"
#include "query.h"
#include "room.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sockets beyond the WebSocket cap allowed for handshakes in progress. */
#define SERVER_HANDSHAKE_SLACK 1024

/* Listening sockets: RELAY_LISTEN names up to this many addresses. */
#define SERVER_LISTEN_MAX 4

static struct {
    struct loop *loop;
    int fds[SERVER_LISTEN_MAX];
    size_t nfds;
    bool stopping;
} sv;

static long long resume_accepting(struct loop *loop, long long id, void *data)
{
    (void)id, (void)data;
    for (size_t i = 0; i < sv.nfds; i++)
        loop_set_mask(loop, sv.fds[i], LOOP_READ);
    return -1;
}

static void server_accept(struct loop *loop, int fd, int mask, void *data)
{
    (void)mask, (void)data;
    for (int i = 0; i < 64; i++) {
        char peer[80];
        int cfd = net_accept(fd, peer, sizeof(peer));
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* out of descriptors: pause for a moment instead of spinning */
                log_warn("accept: %s; pausing accepts for 100 ms", strerror(errno));
                for (size_t k = 0; k < sv.nfds; k++)
                    loop_set_mask(loop, sv.fds[k], 0);
                loop_add_timer(loop, 100, resume_accepting, NULL);
            }
            return;
        }
        if (conn_count() >= cfg.max_connections + SERVER_HANDSHAKE_SLACK) {
            log_warn("peer=%s refused: too many connections", peer);
            close(cfd);
            continue;
        }
        conn_create(cfd, peer);
    }
}

/* Listen on one address and watch it. */
static int server_listen_one(const char *addr)
{
    if (sv.nfds == SERVER_LISTEN_MAX) {
        log_error("listen: more than %d addresses in RELAY_LISTEN", SERVER_LISTEN_MAX);
        return -1;
    }
    int fd = net_listen(addr);
    if (fd < 0)
        return -1;
    if (loop_watch(sv.loop, fd, LOOP_READ, server_accept, NULL) < 0) {
        close(fd);
        return -1;
    }
    sv.fds[sv.nfds++] = fd;
    log_info("listening on %s", addr);
    return 0;
}

int server_listen(struct loop *loop, const char *addrs)
{
    sv.loop = loop;
    char *list = xstrdup(addrs), *save = NULL;
    int rc = 0;
    for (char *a = strtok_r(list, ",", &save); a && rc == 0; a = strtok_r(NULL, ",", &save))
        rc = server_listen_one(a);
    if (rc == 0 && sv.nfds == 0) {
        log_error("listen: RELAY_LISTEN names no address");
        rc = -1;
    }
    free(list);
    return rc;
}

void server_stop_accepting(void)
{
    sv.stopping = true;
    for (size_t i = 0; i < sv.nfds; i++) {
        loop_unwatch(sv.loop, sv.fds[i]);
        close(sv.fds[i]);
    }
    sv.nfds = 0;
}

static void answer(struct conn *c, const char *status, const char *extra, const char *body)
{
    char buf[1024];
    size_t n = handshake_response_http(status, extra, body, buf, sizeof(buf));
    log_info("conn=%llu peer=%s answered %s", c->id, c->peer, status);
    conn_send_http(c, buf, n);
}

/* --- authentication ---------------------------------------------------------------- */

static void auth_done(void *ctx, int status, const struct store_session *s)
{
    struct conn *c = conn_find((unsigned long long)(uintptr_t)ctx);
    if (!c || c->state != CONN_AUTH)
        return;
    if (status < 0) {
        conn_send_error(c, "ERR_UNAVAILABLE", "database unavailable", NULL);
        conn_close(c, 1011, "database unavailable");
        return;
    }
    if (status > 0 || s->revoked || loop_wall_ms() >= s->expires_ms ||
        (c->wx_id[0] && strcmp(c->wx_id, s->session_id) != 0)) {
        conn_reject_session(c, status > 0     ? "unknown session"
                               : s->revoked ? "session revoked"
                                            : "session expired or not matching");
        return;
    }
    c->uid = s->user_id;
    c->session_id = xstrdup(s->session_id);
    c->nickname = xstrdup(s->nickname);
    c->avatar_url = xstrdup(s->avatar_url);
    c->expires_ms = s->expires_ms;
    c->state = CONN_JOINING;
    log_info("conn=%llu peer=%s uid=%lld authenticated, joining room=%s", c->id, c->peer,
             c->uid, c->room_name);
    if (room_join(c) < 0) {
        conn_send_error(c, "ERR_UNAVAILABLE", "database unavailable", NULL);
        conn_close(c, 1011, "database unavailable");
    }
}

/* Read room, since, epoch and the credentials; false when room or since
 * is malformed. */
static bool read_params(struct conn *c, const struct http_request *req, char *skey, size_t cap)
{
    bool ok = true;
    long r = query_get(req->query, "room", c->room_name, sizeof(c->room_name));
    if (r == QUERY_NOT_FOUND)
        snprintf(c->room_name, sizeof(c->room_name), "lobby");
    else if (r < 0 || !msg_room_valid(c->room_name))
        ok = false;
    char since[32];
    r = query_get(req->query, "since", since, sizeof(since));
    if (r >= 0) {
        char *end;
        errno = 0;
        long long v = strtoll(since, &end, 10);
        if (r == 0 || *end || errno || v < 0 || since[0] < '0' || since[0] > '9')
            ok = false;
        else
            c->since = v;
    } else if (r != QUERY_NOT_FOUND) {
        ok = false;
    }
    c->has_epoch = query_get(req->query, "epoch", c->epoch, sizeof(c->epoch)) >= 0;
    snprintf(c->wx_id, sizeof(c->wx_id), "%s", req->wx_id);
    if (!c->wx_id[0] && query_get(req->query, "X-WX-Id", c->wx_id, sizeof(c->wx_id)) < 0)
        c->wx_id[0] = '\0';
    snprintf(skey, cap, "%s", req->wx_skey);
    if (!skey[0] && query_get(req->query, "X-WX-Skey", skey, cap) < 0)
        skey[0] = '\0';
    return ok;
}

/* 101, then parameter checks and the session lookup. */
static void server_upgrade(struct conn *c, const struct http_request *req)
{
    if (sv.stopping || conn_count() >= cfg.max_connections) {
        answer(c, "503 Service Unavailable", "", "{\"error\":\"too many connections\"}");
        return;
    }
    char accept[HANDSHAKE_ACCEPT_LEN + 1], buf[256];
    handshake_accept_key(req->ws_key, accept);
    size_t n = handshake_response_101(accept, buf, sizeof(buf));
    conn_send_http(c, buf, n);
    if (conn_start_websocket(c) < 0)
        return;
    char skey[HTTP_VALUE_MAX];
    bool ok = read_params(c, req, skey, sizeof(skey));
    if (!ok) {
        conn_send_error(c, "ERR_BAD_MESSAGE", "bad room or since parameter", NULL);
        conn_close(c, 1008, "bad parameters");
    } else if (!skey[0]) {
        conn_reject_session(c, "no session");
    } else if (crypto_sha256(skey, strlen(skey), c->skey_hash) < 0 ||
               store_session_lookup(c->skey_hash, auth_done, (void *)(uintptr_t)c->id) < 0) {
        conn_send_error(c, "ERR_UNAVAILABLE", "database unavailable", NULL);
        conn_close(c, 1011, "database unavailable");
    }
    explicit_bzero(skey, sizeof(skey));
}

void conn_handle_request(struct conn *c, size_t head_len)
{
    struct http_request *req = xmalloc(sizeof(*req));
    enum http_head_status st = http_head_parse(c->inbuf, head_len, req);
    size_t left = c->inlen - head_len, plen = strlen(c->peer);
    if (left) { /* keep only bytes that followed the head (early frames) */
        memmove(c->inbuf, c->inbuf + head_len, left);
        c->inbuf = xrealloc(c->inbuf, left);
    } else {
        free(c->inbuf);
        c->inbuf = NULL;
    }
    c->inlen = left;
    c->inoff = 0;
    if (req->real_ip[0] && st == HTTP_HEAD_OK)
        snprintf(c->peer + plen, sizeof(c->peer) - plen, " real_ip=%s", req->real_ip);
    enum handshake_verdict v = st == HTTP_HEAD_OK ? handshake_classify(req) : HS_BAD_REQUEST;
    switch (v) {
    case HS_UPGRADE:
        server_upgrade(c, req);
        break;
    case HS_HEALTHZ:
        if (store_up())
            answer(c, "200 OK", "", "{\"ok\":true}");
        else
            answer(c, "503 Service Unavailable", "", "{\"ok\":false}");
        break;
    case HS_BAD_VERSION:
        answer(c, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
               "{\"error\":\"unsupported WebSocket version\"}");
        break;
    case HS_NOT_FOUND:
        answer(c, "404 Not Found", "", "{\"error\":\"not found\"}");
        break;
    case HS_BAD_METHOD:
        answer(c, "405 Method Not Allowed", "Allow: GET\r\n", "{\"error\":\"method not allowed\"}");
        break;
    default:
        answer(c, "400 Bad Request", "", "{\"error\":\"bad request\"}");
        break;
    }
    explicit_bzero(req, sizeof(*req));
    free(req);
}
