/* wx_client.c -- jscode2session over a reused libcurl handle.
 *
 * The transfer runs on the worker's own multi handle with libcurl's socket
 * API: libcurl says which sockets it wants watched and when its timer is
 * due, the worker waits for those on the event loop (loop.h), and the
 * multi handle keeps the connection to WeChat between logins. */
#include "wx_client.h"

#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "settings.h"
#include "util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WX_ANSWER_MAX (64 * 1024)

struct wx_client {
    CURL *curl;
    CURLM *multi;
    struct pollfd socks[LOOP_WAIT_MAX]; /* what libcurl wants watched */
    int n_socks;
    long long timer_due_ms; /* libcurl's timer, -1 when none */
    const struct settings *cfg;
    char *target_prefix; /* wx_target_prefix(): holds the secret */
    char *body;          /* the answer being received */
    size_t len, cap;
    char errbuf[CURL_ERROR_SIZE];
};

/* Copy string member key (1..cap-1 bytes, or empty allowed when optional). */
static int copy_string(const json_t *obj, const char *key, char *out, size_t cap, int optional)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return optional ? 0 : -1;
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return optional || out[0] ? 0 : -1;
}

static enum wx_status bad_answer(struct wx_session *out, const char *why)
{
    snprintf(out->errmsg, sizeof(out->errmsg), "%s", why);
    out->status = WX_BAD_ANSWER;
    return WX_BAD_ANSWER;
}

/* Fill errcode/errmsg from a refusal. */
static enum wx_status refused(const json_t *obj, struct wx_session *out)
{
    const char *msg = json_string_value(json_object_get(obj, "errmsg"));
    out->errcode = (long)json_integer_value(json_object_get(obj, "errcode"));
    snprintf(out->errmsg, sizeof(out->errmsg), "%s", msg ? msg : "no errmsg");
    for (char *p = out->errmsg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?'; /* it goes into log lines */
    out->status = WX_REFUSED;
    return WX_REFUSED;
}

enum wx_status wx_parse_answer(const char *body, size_t len, struct wx_session *out)
{
    memset(out, 0, sizeof(*out));
    json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    enum wx_status st;
    if (!json_is_object(obj)) {
        st = bad_answer(out, "WeChat's answer is not a JSON object");
        goto done;
    }
    json_t *errcode = json_object_get(obj, "errcode");
    if (errcode && !json_is_integer(errcode)) {
        st = bad_answer(out, "WeChat's errcode is not an integer");
        goto done;
    }
    if (errcode && json_integer_value(errcode) != 0) {
        st = refused(obj, out);
        goto done;
    }
    unsigned char key[BASE64_DECODED_MAX(sizeof(out->session_key))];
    size_t key_len;
    if (copy_string(obj, "openid", out->openid, sizeof(out->openid), 0) < 0 ||
        copy_string(obj, "session_key", out->session_key, sizeof(out->session_key), 0) < 0 ||
        copy_string(obj, "unionid", out->unionid, sizeof(out->unionid), 1) < 0) {
        st = bad_answer(out, "WeChat's answer lacks openid or session_key");
        goto done;
    }
    if (base64_decode(out->session_key, strlen(out->session_key), key, sizeof(key), &key_len) < 0 ||
        key_len != 16) {
        st = bad_answer(out, "WeChat's session_key is not base64 of 16 bytes");
        goto done;
    }
    out->status = st = WX_OK;
done:
    if (st != WX_OK)
        memset(out->session_key, 0, sizeof(out->session_key));
    json_decref(obj);
    return st;
}

char *wx_target_prefix(void *curl, const char *base, const char *appid, const char *secret)
{
    CURLU *u = curl_url();
    char *path = NULL, *out = NULL;
    char *a = curl_easy_escape(curl, appid, 0);
    char *s = curl_easy_escape(curl, secret, 0);
    if (u && a && s && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
            plen--;
        size_t n = plen + strlen(a) + strlen(s) + 64;
        out = xmalloc(n);
        snprintf(out, n, "%.*s/sns/jscode2session?appid=%s&secret=%s&js_code=", (int)plen, path,
                 a, s);
    }
    curl_free(path);
    curl_free(a);
    if (s)
        explicit_bzero(s, strlen(s));
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

char *wx_request_target(void *curl, const char *prefix, const char *code)
{
    static const char tail[] = "&grant_type=authorization_code";
    char *c = curl_easy_escape(curl, code, 0);
    if (!c)
        return NULL;
    size_t plen = strlen(prefix), clen = strlen(c);
    char *target = xmalloc(plen + clen + sizeof(tail));
    memcpy(target, prefix, plen);
    memcpy(target + plen, c, clen);
    memcpy(target + plen + clen, tail, sizeof(tail));
    curl_free(c);
    return target;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct wx_client *c = userp;
    size_t n = size * nmemb;
    if (c->len + n > WX_ANSWER_MAX)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    if (c->len + n + 1 > c->cap) {
        c->cap = c->len + n + 1 > 4096 ? c->len + n + 1 : 4096;
        c->body = xrealloc(c->body, c->cap);
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    c->body[c->len] = '\0';
    return n;
}

/* libcurl's socket callback: watch s for `what`, or forget it. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    struct wx_client *c = userp;
    int i = 0;
    while (i < c->n_socks && c->socks[i].fd != s)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < c->n_socks)
            c->socks[i] = c->socks[--c->n_socks];
        return 0;
    }
    if (i == c->n_socks) {
        if (c->n_socks == LOOP_WAIT_MAX)
            return -1; /* never seen: one transfer, one connection */
        c->n_socks++;
    }
    c->socks[i] = (struct pollfd){.fd = s,
                                  .events = (short)((what & CURL_POLL_IN ? POLLIN : 0) |
                                                    (what & CURL_POLL_OUT ? POLLOUT : 0))};
    return 0;
}

/* libcurl's timer callback: when to call it with CURL_SOCKET_TIMEOUT. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct wx_client *c = userp;
    c->timer_due_ms = timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;
    return 0;
}

static CURLM *new_multi(struct wx_client *c)
{
    CURLM *m = curl_multi_init();
    if (!m)
        return NULL;
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, c);
    return m;
}

/* Point the handle at WX_API_BASE once: every exchange is a request to
 * that origin whose request target (wx_request_target()) is set per code,
 * so libcurl parses and formats only the short base URL per transfer (its
 * formatting of a long URL was a fifth of login-fcgi's instructions). An
 * origin-form target cannot go through a plain-HTTP forward proxy, so an
 * http:// base (a local stand-in) is used without one; WeChat's https://
 * API is tunnelled by a proxy with CONNECT, where the target is right. */
static int set_endpoint(struct wx_client *c)
{
    const char *base = c->cfg->wx_api_base;
    c->target_prefix = wx_target_prefix(c->curl, base, c->cfg->wx_appid, c->cfg->wx_secret);
    if (!c->target_prefix) {
        log_error("WX_API_BASE %s is not a URL libcurl accepts", base);
        return -1;
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, base);
    if (strncasecmp(base, "http://", 7) == 0)
        curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
    return 0;
}

struct wx_client *wx_client_new(const struct settings *cfg)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    struct wx_client *c = xcalloc(1, sizeof(*c));
    c->curl = h;
    c->cfg = cfg;
    c->timer_due_ms = -1;
    c->multi = new_multi(c);
    if (!c->multi) {
        wx_client_free(c);
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->wx_connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->wx_timeout_ms);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "chat-login-fcgi/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (set_endpoint(c) < 0) {
        wx_client_free(c);
        return NULL;
    }
    return c;
}

void wx_client_free(struct wx_client *c)
{
    if (!c)
        return;
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_easy_cleanup(c->curl);
    if (c->target_prefix)
        explicit_bzero(c->target_prefix, strlen(c->target_prefix));
    free(c->target_prefix);
    free(c->body);
    free(c);
}

/* How long to wait for libcurl's sockets: until its timer is due. */
static int timer_wait_ms(const struct wx_client *c)
{
    if (c->timer_due_ms < 0)
        return c->n_socks ? -1 : 1000; /* nothing to wait for: look again soon */
    long long left = c->timer_due_ms - loop_now_ms();
    return left > 0 ? (int)left : 0;
}

/* Hand libcurl the sockets that are ready, and its timer if it is due. */
static void drive(struct wx_client *c, const struct pollfd *ready, int n, int *running)
{
    for (int i = 0; i < n; i++) {
        if (!ready[i].revents)
            continue;
        int mask = (ready[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
                   (ready[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                   (ready[i].revents & (POLLERR | POLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(c->multi, ready[i].fd, mask, running);
    }
    if (c->timer_due_ms >= 0 && loop_now_ms() >= c->timer_due_ms) {
        c->timer_due_ms = -1;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, running);
    }
}

/* curl_easy_perform() on the event loop: run the transfer on the multi
 * handle, waiting for its sockets in this coroutine. */
static CURLcode perform(struct wx_client *c)
{
    CURLMcode mc = curl_multi_add_handle(c->multi, c->curl);
    if (mc != CURLM_OK) {
        snprintf(c->errbuf, sizeof(c->errbuf), "curl_multi_add_handle: %s",
                 curl_multi_strerror(mc));
        return CURLE_FAILED_INIT;
    }
    int running = 1;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (running) {
        struct pollfd ready[LOOP_WAIT_MAX];
        int n = c->n_socks;
        memcpy(ready, c->socks, sizeof(ready[0]) * (size_t)n);
        if (loop_wait(ready, n, timer_wait_ms(c)) < 0)
            break;
        drive(c, ready, n, &running);
    }
    CURLcode rc = CURLE_RECV_ERROR;
    int left;
    for (CURLMsg *m; (m = curl_multi_info_read(c->multi, &left)) != NULL;)
        if (m->msg == CURLMSG_DONE)
            rc = m->data.result;
    curl_multi_remove_handle(c->multi, c->curl);
    return rc;
}

/* Classify a failed transfer. */
static enum wx_status transfer_failed(struct wx_client *c, CURLcode rc, const char *tag,
                                      struct wx_session *out)
{
    out->status = rc == CURLE_OPERATION_TIMEDOUT ? WX_TIMEOUT : WX_UNREACHABLE;
    snprintf(out->errmsg, sizeof(out->errmsg), "%s",
             out->status == WX_TIMEOUT ? "WeChat did not answer in time" : "WeChat is unreachable");
    log_warn("%s jscode2session failed: %s (%s)", tag, curl_easy_strerror(rc),
             c->errbuf[0] ? c->errbuf : "no detail");
    return out->status;
}

enum wx_status wx_exchange(struct wx_client *c, const char *code, const char *tag,
                           struct wx_session *out)
{
    memset(out, 0, sizeof(*out));
    char *target = wx_request_target(c->curl, c->target_prefix, code);
    if (!target) {
        out->status = WX_UNREACHABLE;
        snprintf(out->errmsg, sizeof(out->errmsg), "could not build the WeChat request");
        return out->status;
    }
    c->len = 0;
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_REQUEST_TARGET, target);
    CURLcode rc = perform(c);
    curl_easy_setopt(c->curl, CURLOPT_REQUEST_TARGET, NULL);
    explicit_bzero(target, strlen(target));
    free(target);
    if (rc != CURLE_OK)
        return transfer_failed(c, rc, tag, out);
    long http = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
    if (http != 200) {
        log_warn("%s jscode2session answered HTTP %ld", tag, http);
        out->status = WX_HTTP_ERROR;
        snprintf(out->errmsg, sizeof(out->errmsg), "WeChat answered HTTP %ld", http);
        return out->status;
    }
    enum wx_status st = wx_parse_answer(c->body ? c->body : "", c->len, out);
    if (c->body)
        memset(c->body, 0, c->len); /* it held the session_key */
    if (st == WX_BAD_ANSWER)
        log_warn("%s jscode2session: %s", tag, out->errmsg);
    else if (st == WX_REFUSED)
        log_info("%s jscode2session refused: errcode %ld (%s)", tag, out->errcode, out->errmsg);
    return st;
}

int wx_http_status(const struct wx_session *s)
{
    switch (s->status) {
    case WX_OK:
        return 200;
    case WX_REFUSED:
        return s->errcode == -1 ? 502 : 401;
    case WX_TIMEOUT:
        return 504;
    default:
        return 502;
    }
}
