/* login.c -- logins per second through nginx with the load generator's own
 * keep-alive HTTP/1.1 client. Bodies are parsed with jansson: the stand-in's
 * codes as they come (untimed), the /login answers after the timed phase.
 * During it an answer of status 200 is only kept, with its latency, so
 * that the client's JSON parsing (about 58,000 instructions an answer)
 * does not take CPU from the programs being measured; every kept answer
 * is then checked, and only those with a session count as logins. */
#include "login.h"

#include "hist.h"
#include "httpresp.h"
#include "log.h"
#include "netutil.h"
#include "stop.h"
#include "sysstat.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HBUF 65536
#define HWBUF 8192
#define MAX_TRIES 3

enum hstate { HS_IDLE, HS_CONNECTING, HS_ACTIVE };
enum phase { PHASE_CODES, PHASE_LOGINS };

struct hconn {
    int fd, idx, job, tries;
    enum hstate state;
    bool want_out;
    char *rbuf, *wbuf;
    size_t rlen, woff, wlen;
    int64_t t0;
};

struct login_job {
    char *code, *enc, *iv;
    char *answer;       /* body of its 200 answer, checked after the phase */
    int64_t latency_us; /* of that answer */
};

struct login_run {
    const struct login_opts *o;
    int ep;
    enum phase phase;
    struct hconn *h;
    struct login_job *jobs;
    int next_job, active, abandoned, codes_ok, codes_failed, ok, failed, reconnects;
    int64_t deadline, last_done;
    struct hist lat;
    json_t *statuses; /* "status" -> count of failed logins */
    FILE *out;
    char body[HBUF];
};

static void hc_next(struct login_run *r, struct hconn *h);

static void hc_set_out(struct login_run *r, struct hconn *h, bool on)
{
    if (h->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = h};
    if (epoll_ctl(r->ep, EPOLL_CTL_MOD, h->fd, &ev) != 0)
        log_warn("http=%d epoll_ctl(MOD): %s", h->idx, strerror(errno));
    h->want_out = on;
}

static void hc_disconnect(struct hconn *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->rlen = 0;
    h->state = HS_IDLE;
}

/* Count a failed login under its status. */
static void count_failed_login(struct login_run *r, const char *status)
{
    r->failed++;
    json_t *n = json_object_get(r->statuses, status);
    json_object_set_new(r->statuses, status, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* The current request failed for good: count it and move on. */
static void hc_job_failed(struct login_run *r, struct hconn *h, const char *status)
{
    log_debug("http=%d job=%d failed: %s", h->idx, h->job, status);
    if (r->phase == PHASE_CODES) {
        r->codes_failed++;
    } else {
        count_failed_login(r, status);
    }
    r->active--;
    hc_disconnect(h);
    if (strcmp(status, "connect") != 0) /* a refused connect idles this client */
        hc_next(r, h);
}

/* Write the request; on completion wait for the answer. */
static void hc_flush(struct login_run *r, struct hconn *h)
{
    while (h->woff < h->wlen) {
        ssize_t n = send(h->fd, h->wbuf + h->woff, h->wlen - h->woff, MSG_NOSIGNAL);
        if (n > 0) {
            h->woff += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            hc_set_out(r, h, true);
            return;
        } else if (!(n < 0 && errno == EINTR)) {
            hc_job_failed(r, h, "send");
            return;
        }
    }
    hc_set_out(r, h, false);
}

/* Send the prepared request, connecting first when needed. */
static void hc_send(struct login_run *r, struct hconn *h)
{
    h->woff = 0;
    if (h->fd >= 0) {
        h->state = HS_ACTIVE;
        hc_flush(r, h);
        return;
    }
    h->fd = net_connect_start(&r->o->addr);
    if (h->fd < 0) {
        hc_job_failed(r, h, "connect");
        return;
    }
    h->state = HS_CONNECTING;
    h->want_out = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = h};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, h->fd, &ev) != 0)
        hc_job_failed(r, h, "epoll");
}

/* Build the request of job j for the current phase into h->wbuf. */
static int hc_build(struct login_run *r, struct hconn *h, int j)
{
    const struct login_opts *o = r->o;
    int n;
    if (r->phase == PHASE_CODES)
        n = snprintf(h->wbuf, HWBUF, "GET /standin/code?user=%s-%d HTTP/1.1\r\nHost: %s\r\n\r\n",
                     o->user_prefix, j, o->addr_text);
    else
        n = snprintf(h->wbuf, HWBUF,
                     "GET /login HTTP/1.1\r\nHost: %s\r\nX-WX-Code: %s\r\n"
                     "X-WX-Encrypted-Data: %s\r\nX-WX-IV: %s\r\n\r\n",
                     o->addr_text, r->jobs[j].code, r->jobs[j].enc, r->jobs[j].iv);
    if (n < 0 || n >= HWBUF)
        return -1;
    h->wlen = (size_t)n;
    return 0;
}

/* Start the next job on h, if any is left and time remains. */
static void hc_next(struct login_run *r, struct hconn *h)
{
    const struct login_opts *o = r->o;
    while (r->next_job < o->count && now_ns() < r->deadline && !stop_requested()) {
        int j = r->next_job++;
        if (r->phase == PHASE_LOGINS && !r->jobs[j].code)
            continue;
        if (hc_build(r, h, j) != 0) {
            log_warn("http=%d job=%d request too long", h->idx, j);
            continue;
        }
        h->job = j;
        h->tries = 0;
        h->t0 = now_ns();
        r->active++;
        hc_send(r, h);
        return;
    }
}

/* A code from the stand-in: keep code, encryptedData and iv. */
static int take_code(struct login_run *r, int j, int status)
{
    json_t *root = status == 200 ? json_loads(r->body, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(root, "code"));
    const char *enc = json_string_value(json_object_get(root, "encryptedData"));
    const char *iv = json_string_value(json_object_get(root, "iv"));
    int rc = -1;
    if (code && enc && iv) {
        r->jobs[j] =
            (struct login_job){.code = xstrdup(code), .enc = xstrdup(enc), .iv = xstrdup(iv)};
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* A /login answer of status 200: with session.id and session.skey it is a
 * login (0), else -1. */
static int take_login(struct login_run *r, const char *body)
{
    json_t *root = json_loads(body, 0, NULL);
    json_t *session = json_object_get(root, "session");
    const char *id = json_string_value(json_object_get(session, "id"));
    const char *skey = json_string_value(json_object_get(session, "skey"));
    int rc = -1;
    if (id && skey) {
        if (r->out)
            fprintf(r->out, "%s %s\n", id, skey);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* A whole response arrived for h's job, its body in r->body (body_len). */
static void hc_done(struct login_run *r, struct hconn *h, int status, size_t body_len)
{
    char st[16];
    snprintf(st, sizeof st, "%d", status);
    int rc = r->phase == PHASE_CODES ? take_code(r, h->job, status) : status == 200 ? 0 : -1;
    if (rc != 0) {
        hc_job_failed(r, h, st);
        return;
    }
    int64_t now = now_ns();
    if (r->phase == PHASE_CODES) {
        r->codes_ok++;
    } else {
        struct login_job *job = &r->jobs[h->job];
        job->answer = xstrndup(r->body, body_len);
        job->latency_us = (now - h->t0) / 1000;
    }
    r->last_done = now;
    r->active--;
    hc_next(r, h);
}

/* EOF or error while waiting: resend on a new connection when the server
 * closed an idle keep-alive connection before answering anything. */
static void hc_lost(struct login_run *r, struct hconn *h)
{
    bool nothing = h->rlen == 0;
    hc_disconnect(h);
    if (nothing && ++h->tries < MAX_TRIES) {
        r->reconnects++;
        hc_send(r, h);
        return;
    }
    hc_job_failed(r, h, "closed");
}

static void hc_readable(struct login_run *r, struct hconn *h)
{
    ssize_t n = recv(h->fd, h->rbuf + h->rlen, HBUF - h->rlen, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        hc_lost(r, h);
        return;
    }
    h->rlen += (size_t)n;
    struct http_head head;
    size_t body_len, used;
    int rc = http_head_parse(h->rbuf, h->rlen, &head);
    if (rc > 0)
        rc = http_body_parse(h->rbuf, h->rlen, &head, r->body, sizeof r->body, &body_len, &used);
    if (rc == 0 && h->rlen < HBUF)
        return;
    if (rc <= 0) {
        hc_job_failed(r, h, "bad response");
        return;
    }
    h->rlen = 0; /* one request at a time: nothing follows the answer */
    if (head.close)
        hc_disconnect(h);
    hc_done(r, h, head.status, body_len);
}

static void hc_event(struct login_run *r, struct hconn *h, uint32_t ev)
{
    if (h->state == HS_CONNECTING) {
        int err = net_connect_result(h->fd);
        if (err) {
            log_debug("http=%d connect: %s", h->idx, strerror(err));
            hc_job_failed(r, h, "connect");
            return;
        }
        h->state = HS_ACTIVE;
        hc_flush(r, h);
        return;
    }
    if (h->state == HS_ACTIVE && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        hc_readable(r, h);
    else if (h->state == HS_IDLE && h->fd >= 0 && (ev & (EPOLLIN | EPOLLHUP)))
        hc_disconnect(h); /* keep-alive closed by nginx while idle */
    if (h->state == HS_ACTIVE && (ev & EPOLLOUT))
        hc_flush(r, h);
}

/* Run one phase over all jobs until done or `seconds` pass (then up to
 * 5 s more for answers in flight). Returns the elapsed seconds. */
static double run_phase(struct login_run *r, enum phase phase, double seconds)
{
    int64_t t0 = now_ns();
    r->phase = phase;
    r->next_job = 0;
    r->active = 0;
    r->last_done = t0;
    r->deadline = t0 + (int64_t)(seconds * 1e9);
    for (int i = 0; i < r->o->clients; i++)
        hc_next(r, &r->h[i]);
    int64_t hard = r->deadline + 5000000000LL;
    struct epoll_event ev[256];
    while (r->active > 0 && now_ns() < hard && !stop_requested()) {
        int n = epoll_wait(r->ep, ev, 256, 10);
        for (int i = 0; i < n; i++)
            hc_event(r, ev[i].data.ptr, ev[i].events);
    }
    r->abandoned += r->active;
    for (int i = 0; i < r->o->clients; i++)
        if (r->h[i].state != HS_IDLE)
            hc_disconnect(&r->h[i]); /* abandoned in flight */
    return (double)(r->last_done - t0) / 1e9;
}

static void set_real(json_t *o, const char *k, double v, double scale)
{
    json_object_set_new(o, k, json_real(round(v * scale) / scale));
}

/* Check the answers kept in the timed phase: a login for each with a
 * session, a failure (status "200") for the others. */
static void check_answers(struct login_run *r)
{
    for (int i = 0; i < r->o->count; i++) {
        struct login_job *job = &r->jobs[i];
        if (!job->answer)
            continue;
        if (take_login(r, job->answer) == 0) {
            r->ok++;
            hist_record(&r->lat, job->latency_us);
        } else {
            count_failed_login(r, "200");
        }
    }
}

/* Print the report of both phases; a and b: the watched programs' CPU
 * before and after the timed phase, client_ns: the load generator's. */
static void login_report(struct login_run *r, double prep_s, double run_s, int64_t client_ns,
                         const struct proc_snap *a, const struct proc_snap *b)
{
    json_t *j = json_object();
    double s = run_s > 0 ? run_s : 1e-9;
    json_object_set_new(j, "mode", json_string("login"));
    json_object_set_new(j, "label", json_string(r->o->label ? r->o->label : ""));
    json_object_set_new(j, "target", json_string(r->o->addr_text));
    json_object_set_new(j, "clients", json_integer(r->o->clients));
    json_object_set_new(j, "codes", json_integer(r->codes_ok));
    json_object_set_new(j, "codes_failed", json_integer(r->codes_failed));
    set_real(j, "prepare_seconds", prep_s, 1000);
    json_object_set_new(j, "logins", json_integer(r->ok));
    json_object_set_new(j, "failed", json_integer(r->failed + r->abandoned));
    json_object_set_new(j, "failed_by_status", json_incref(r->statuses));
    json_object_set_new(j, "reconnects", json_integer(r->reconnects));
    set_real(j, "seconds", run_s, 1000);
    set_real(j, "logins_per_s", r->ok / s, 1);
    set_real(j, "p50_ms", hist_quantile(&r->lat, 0.5) / 1000.0, 100);
    set_real(j, "p99_ms", hist_quantile(&r->lat, 0.99) / 1000.0, 100);
    set_real(j, "max_ms", r->lat.max_us / 1000.0, 100);
    set_real(j, "client_cpu", (double)client_ns / 1e9 / s, 1000);
    json_t *programs = proc_groups_json(&r->o->cpu, a, b, s, r->ok, "login");
    if (programs)
        json_object_set_new(j, "programs_cpu", programs);
    json_object_set_new(j, "cores", json_integer(machine_cores()));
    json_object_set_new(j, "interrupted", json_boolean(stop_requested()));
    char *text = json_dumps(j, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(j);
}

static void login_run_free(struct login_run *r)
{
    for (int i = 0; r->h && i < r->o->clients; i++) {
        hc_disconnect(&r->h[i]);
        free(r->h[i].rbuf);
        free(r->h[i].wbuf);
    }
    for (int i = 0; r->jobs && i < r->o->count; i++) {
        free(r->jobs[i].code);
        free(r->jobs[i].enc);
        free(r->jobs[i].iv);
        free(r->jobs[i].answer);
    }
    free(r->h);
    free(r->jobs);
    json_decref(r->statuses);
    if (r->out && fclose(r->out) != 0)
        log_error("sessions-out=%s: %s", r->o->sessions_out, strerror(errno));
    if (r->ep >= 0)
        close(r->ep);
}

int login_run_main(const struct login_opts *o)
{
    struct login_run *r = xcalloc(1, sizeof *r);
    r->o = o;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    r->statuses = json_object();
    r->h = xcalloc((size_t)o->clients, sizeof *r->h);
    r->jobs = xcalloc((size_t)o->count, sizeof *r->jobs);
    for (int i = 0; i < o->clients; i++)
        r->h[i] = (struct hconn){.fd = -1, .idx = i, .rbuf = xmalloc(HBUF), .wbuf = xmalloc(HWBUF)};
    int rc = -1;
    if (r->ep < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        goto out;
    }
    if (o->sessions_out && !(r->out = fopen(o->sessions_out, "w"))) {
        log_error("sessions-out=%s: %s", o->sessions_out, strerror(errno));
        goto out;
    }
    double prep = run_phase(r, PHASE_CODES, o->prepare_timeout_s);
    log_info("codes=%d failed=%d in %.2fs", r->codes_ok, r->codes_failed, prep);
    if (r->codes_ok == 0) {
        log_error("no code from the WeChat stand-in at %s", o->addr_text);
        goto out;
    }
    struct proc_snap before = {0}, after = {0};
    proc_snap_read(&o->cpu, &before);
    int64_t cpu0 = self_cpu_ns();
    double run = stop_requested() ? 0 : run_phase(r, PHASE_LOGINS, o->duration_s);
    proc_snap_read(&o->cpu, &after);
    int64_t client_ns = self_cpu_ns() - cpu0;
    check_answers(r);
    login_report(r, prep, run, client_ns, &before, &after);
    proc_snap_free(&before);
    proc_snap_free(&after);
    rc = 0;
out:
    login_run_free(r);
    free(r);
    return rc;
}
