/* chat.c -- the chat scenario driver: load sessions, connect, hold or run
 * sender steps, and print the JSON report. */
#include "chat.h"

#include "log.h"
#include "stop.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CHAT_EVENTS 1024

/* Read `conns` lines of "id skey" from the sessions file. */
static int load_sessions(struct chat_run *r)
{
    FILE *f = fopen(r->o->sessions, "r");
    if (!f) {
        log_error("sessions=%s: %s", r->o->sessions, strerror(errno));
        return -1;
    }
    int n = 0;
    while (n < r->o->conns && fscanf(f, "%79s %79s", r->sess_id[n], r->sess_skey[n]) == 2)
        n++;
    fclose(f);
    if (n < r->o->conns) {
        log_error("sessions=%s: %d sessions for %d connections", r->o->sessions, n, r->o->conns);
        return -1;
    }
    return 0;
}

/* Wait up to timeout_ms for events and dispatch them. */
static void chat_poll(struct chat_run *r, int timeout_ms)
{
    struct epoll_event ev[CHAT_EVENTS];
    int n = epoll_wait(r->ep, ev, CHAT_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        log_error("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        wconn_event(r, ev[i].data.ptr, ev[i].events);
}

/* Open every connection, at most connect_concurrency at a time, until all
 * are ready or failed or the connect timeout passes. */
static void connect_phase(struct chat_run *r)
{
    const struct chat_opts *o = r->o;
    int64_t deadline = now_ns() + (int64_t)(o->connect_timeout_s * 1e9);
    while (r->ready + r->done < o->conns) {
        while (r->started < o->conns && r->in_progress < o->connect_concurrency)
            wconn_start(r, &r->c[r->started++]);
        chat_poll(r, 5);
        if (now_ns() > deadline || stop_requested())
            break;
    }
    for (int i = 0; i < o->conns; i++) {
        if (r->c[i].state != WC_DONE && !r->c[i].ready) {
            r->fail.timeout++;
            wconn_close(r, &r->c[i]);
        }
    }
}

/* Keep every connection served for `seconds`. */
static void hold_phase(struct chat_run *r, double seconds)
{
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    while (now_ns() < end && !stop_requested())
        chat_poll(r, 10);
}

static void step_begin(struct chat_run *r, struct chat_step *st, int senders)
{
    memset(st, 0, sizeof *st);
    st->senders = senders;
    st->cpu0 = self_cpu_ns();
    st->relay_cpu0 = r->o->relay_pid ? proc_cpu_ns(r->o->relay_pid) : 0;
    st->relay_wait0 = r->o->relay_pid ? proc_runq_wait_ns(r->o->relay_pid) : 0;
    machine_ticks_read(&st->m0);
    st->io_stall0_us = machine_io_stall_us();
    proc_snap_read(&r->o->cpu, &st->procs0);
    st->start_ns = now_ns() + 20000000; /* 20 ms lead */
    st->send_end_ns = st->start_ns + (int64_t)(r->o->step_s * 1e9);
    r->st = st;
}

/* Open loop: send every message whose scheduled time has come. */
static void senders_tick(struct chat_run *r, int64_t now)
{
    struct chat_step *st = r->st;
    int64_t period = (int64_t)(1e9 / r->o->rate);
    for (int i = 0; i < st->senders; i++) {
        struct wconn *c = &r->c[i];
        int64_t t = st->start_ns + c->phase_ns + c->n_step * period;
        while (t <= now && t < st->send_end_ns) {
            wconn_send_message(r, c, t);
            c->n_step++;
            t += period;
        }
    }
}

/* Closed loop: fill every sender's window once; acks refill it. */
static void senders_fill(struct chat_run *r)
{
    struct chat_step *st = r->st;
    int64_t now = now_ns();
    for (int i = 0; i < st->senders; i++)
        for (int w = 0; w < r->o->window && r->c[i].ready; w++)
            wconn_send_message(r, &r->c[i], now);
}

/* Ids that some member of a room has and another has not (yet); 0 once
 * every receiver has caught up with its room. */
static uint64_t missing_now(const struct chat_run *r)
{
    uint64_t n = 0;
    for (int i = 0; i < r->o->conns; i++) {
        const struct wconn *c = &r->c[i];
        if (c->ready && c->last_id < r->room_max[c->room])
            n += (uint64_t)(r->room_max[c->room] - c->last_id);
    }
    return n;
}

/* After the last step: wait up to `seconds` for every receiver to catch up;
 * what is still missing then is lost for good. */
static uint64_t final_drain(struct chat_run *r, double seconds)
{
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    uint64_t missing;
    while ((missing = missing_now(r)) > 0 && now_ns() < end && !stop_requested())
        chat_poll(r, 10);
    return missing;
}

/* Run one step with `senders` senders; fills *st. */
static void step_run(struct chat_run *r, struct chat_step *st, int senders)
{
    step_begin(r, st, senders);
    int64_t period = r->o->rate > 0 ? (int64_t)(1e9 / r->o->rate) : 0;
    for (int i = 0; i < senders; i++) {
        r->c[i].n_step = 0;
        r->c[i].inflight = 0;
        r->c[i].phase_ns = period * i / senders;
    }
    while (now_ns() < st->start_ns)
        chat_poll(r, 1);
    if (r->o->rate <= 0)
        senders_fill(r);
    int64_t now;
    while ((now = now_ns()) < st->send_end_ns && !stop_requested()) {
        if (r->o->rate > 0)
            senders_tick(r, now);
        chat_poll(r, 1);
    }
    if (r->o->rate > 0)
        senders_tick(r, st->send_end_ns - 1); /* what fell due during the last poll */
    int64_t drain_end = st->send_end_ns + (int64_t)(r->o->drain_s * 1e9);
    while (st->delivered < st->expected && now_ns() < drain_end && !stop_requested())
        chat_poll(r, 2);
    st->end_ns = now_ns();
    st->pending = missing_now(r);
    r->gaps_total += st->gaps;
    r->dups_total += st->dups;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Judge a step: why it fails, or NULL when it passes. */
static const char *step_verdict(const struct chat_run *r, const struct chat_step *st)
{
    double p99 = ms(hist_quantile(&st->lat, 0.99));
    if (st->gaps || st->dups)
        return "messages lost or duplicated";
    if (st->expected == 0)
        return "nothing sent";
    if ((double)st->delivered < r->o->min_ratio * (double)st->expected)
        return "deliveries below the minimum share of expected";
    if (p99 > r->o->p99_limit_ms)
        return "p99 latency over the limit";
    return NULL;
}

static void set_int(json_t *o, const char *k, long long v)
{
    json_object_set_new(o, k, json_integer(v));
}

static void set_real(json_t *o, const char *k, double v, double scale)
{
    json_object_set_new(o, k, json_real(round(v * scale) / scale));
}

/* The report of one step. */
static json_t *step_json(const struct chat_run *r, const struct chat_step *st)
{
    json_t *j = json_object();
    double send_s = (double)(st->send_end_ns - st->start_ns) / 1e9;
    double wall_s = (double)(st->end_ns - st->start_ns) / 1e9 + 0.02;
    struct machine_ticks m1;
    machine_ticks_read(&m1);
    set_int(j, "senders", st->senders);
    set_real(j, "rate_per_sender", r->o->rate, 100);
    set_int(j, "window", r->o->rate > 0 ? 0 : r->o->window);
    set_real(j, "seconds", send_s, 1000);
    set_int(j, "sent", (long long)st->sent);
    set_int(j, "acked", (long long)st->acked);
    set_int(j, "expected", (long long)st->expected);
    set_int(j, "delivered", (long long)st->delivered);
    set_real(j, "delivered_share", st->expected ? (double)st->delivered / st->expected : 0, 1e5);
    set_real(j, "deliveries_per_s", st->delivered / send_s, 1);
    set_real(j, "messages_per_s", st->acked / send_s, 1);
    set_real(j, "p50_ms", ms(hist_quantile(&st->lat, 0.50)), 100);
    set_real(j, "p99_ms", ms(hist_quantile(&st->lat, 0.99)), 100);
    set_real(j, "max_ms", ms(st->lat.max_us), 100);
    set_int(j, "lost", (long long)st->gaps);
    set_int(j, "pending_at_end", (long long)st->pending);
    set_int(j, "duplicated", (long long)st->dups);
    set_int(j, "late", (long long)st->late);
    set_int(j, "rate_limited", (long long)st->rate_limited);
    set_int(j, "errors", (long long)st->errors);
    set_int(j, "bad_frames", (long long)st->bad_frames);
    set_int(j, "send_blocked", (long long)st->send_blocked);
    set_int(j, "closed", (long long)st->closed);
    set_real(j, "client_cpu", (double)(self_cpu_ns() - st->cpu0) / 1e9 / wall_s, 1000);
    if (r->o->relay_pid) {
        set_real(j, "relay_cpu",
                 (double)(proc_cpu_ns(r->o->relay_pid) - st->relay_cpu0) / 1e9 / wall_s, 1000);
        set_real(j, "relay_runqueue_wait",
                 (double)(proc_runq_wait_ns(r->o->relay_pid) - st->relay_wait0) / 1e9 / wall_s,
                 1000);
    }
    set_real(j, "machine_busy", machine_busy_share(&st->m0, &m1), 1000);
    int64_t io_stall1_us = machine_io_stall_us();
    if (st->io_stall0_us >= 0 && io_stall1_us >= st->io_stall0_us)
        set_real(j, "io_stall_ms", (double)(io_stall1_us - st->io_stall0_us) / 1000, 10);
    struct proc_snap procs1 = {0};
    proc_snap_read(&r->o->cpu, &procs1);
    json_t *programs =
        proc_groups_json(&r->o->cpu, &st->procs0, &procs1, wall_s, (long long)st->acked, "message");
    if (programs)
        json_object_set_new(j, "programs_cpu", programs);
    proc_snap_free(&procs1);
    const char *why = step_verdict(r, st);
    json_object_set_new(j, "ok", json_boolean(why == NULL));
    if (why)
        json_object_set_new(j, "fail_reason", json_string(why));
    return j;
}

/* Connection outcome of the run. */
static json_t *failures_json(const struct chat_run *r)
{
    static const char *names[] = {"1000", "1001", "1002", "1007", "1008", "1009", "4008", "4401"};
    const struct chat_failures *f = &r->fail;
    json_t *codes = json_object();
    for (size_t i = 0; i < countof(names); i++)
        if (f->close_codes[i])
            set_int(codes, names[i], f->close_codes[i]);
    if (f->close_other)
        set_int(codes, "other", f->close_other);
    json_t *j = json_object();
    set_int(j, "connect", f->connect);
    set_int(j, "handshake", f->handshake);
    set_int(j, "invalid_session", f->invalid_session);
    set_int(j, "timeout", f->timeout);
    set_int(j, "protocol", f->protocol);
    set_int(j, "closed", f->closed);
    json_object_set_new(j, "close_codes", codes);
    return j;
}

/* Run every configured step; adds "steps" and "last_good" to rep. */
static void steps_phase(struct chat_run *r, json_t *rep)
{
    json_t *steps = json_array(), *last_good = json_null();
    bool failed = false;
    for (int i = 0; i < r->o->nsteps; i++) {
        int senders = r->o->steps[i] < r->o->conns ? r->o->steps[i] : r->o->conns;
        struct chat_step *st = xmalloc(sizeof *st);
        step_run(r, st, senders);
        json_t *j = step_json(r, st);
        r->st = r->setup;
        proc_snap_free(&st->procs0);
        free(st);
        json_array_append(steps, j);
        log_info("step senders=%d delivered/s=%.0f p99=%.2fms ok=%d", senders,
                 json_real_value(json_object_get(j, "deliveries_per_s")),
                 json_real_value(json_object_get(j, "p99_ms")),
                 json_is_true(json_object_get(j, "ok")));
        if (!json_is_true(json_object_get(j, "ok")))
            failed = true;
        else if (!failed) {
            json_decref(last_good);
            last_good = json_incref(j);
        }
        json_decref(j);
        if ((failed && !r->o->all_steps) || stop_requested())
            break;
    }
    json_object_set_new(rep, "steps", steps);
    json_object_set_new(rep, "last_good", last_good);
    uint64_t missing = final_drain(r, 5);
    r->gaps_total += r->setup->gaps;
    r->dups_total += r->setup->dups;
    set_int(rep, "missing_after_final_drain", (long long)missing);
    set_int(rep, "lost_total", (long long)(r->gaps_total + missing));
    set_int(rep, "duplicated_total", (long long)r->dups_total);
}

/* Connection phase results, and the relay's RSS around it. */
static void connect_report(struct chat_run *r, json_t *rep, int64_t t0, long long rss0)
{
    const struct chat_opts *o = r->o;
    set_int(rep, "ready", r->ready);
    set_int(rep, "failed", o->conns - r->ready);
    set_real(rep, "connect_seconds", (double)(now_ns() - t0) / 1e9, 1000);
    set_int(rep, "history_frames", (long long)r->setup->history);
    set_int(rep, "presence_frames", (long long)r->setup->presence);
    if (!o->relay_pid)
        return;
    long long rss1 = proc_rss_kb(o->relay_pid);
    set_int(rep, "relay_rss_before_kb", rss0);
    set_int(rep, "relay_rss_after_kb", rss1);
    if (r->ready > 0 && rss0 >= 0 && rss1 >= 0)
        set_real(rep, "relay_rss_per_conn_bytes", (double)(rss1 - rss0) * 1024 / r->ready, 10);
}

static json_t *report_new(const struct chat_opts *o)
{
    json_t *rep = json_object();
    json_object_set_new(rep, "mode", json_string(o->nsteps ? "chat" : "idle"));
    json_object_set_new(rep, "label", json_string(o->label ? o->label : ""));
    json_object_set_new(rep, "target", json_string(o->addr_text));
    set_int(rep, "conns", o->conns);
    set_int(rep, "rooms", o->rooms);
    set_int(rep, "cores", machine_cores());
    return rep;
}

static void chat_run_free(struct chat_run *r)
{
    for (int i = 0; r->c && i < r->o->conns; i++)
        wconn_close(r, &r->c[i]);
    if (r->ep >= 0)
        close(r->ep);
    free(r->c);
    free(r->sess_id);
    free(r->sess_skey);
    free(r->room_ready);
    free(r->room_max);
    free(r->setup);
}

int chat_run_main(const struct chat_opts *o)
{
    struct chat_run r = {.o = o, .ep = -1, .rng = (uint64_t)now_ns() | 1};
    r.c = xcalloc((size_t)o->conns, sizeof *r.c);
    r.sess_id = xcalloc((size_t)o->conns, sizeof *r.sess_id);
    r.sess_skey = xcalloc((size_t)o->conns, sizeof *r.sess_skey);
    r.room_ready = xcalloc((size_t)o->rooms, sizeof *r.room_ready);
    r.room_max = xcalloc((size_t)o->rooms, sizeof *r.room_max);
    r.setup = r.st = xcalloc(1, sizeof *r.setup);
    for (int i = 0; i < o->conns; i++)
        r.c[i] = (struct wconn){.fd = -1, .idx = i, .room = i % o->rooms, .last_id = -1};
    int rc = -1;
    if (load_sessions(&r) != 0)
        goto out;
    if ((r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        log_error("epoll_create1: %s", strerror(errno));
        goto out;
    }
    json_t *rep = report_new(o);
    long long rss0 = o->relay_pid ? proc_rss_kb(o->relay_pid) : -1;
    int64_t t0 = now_ns();
    connect_phase(&r);
    if (o->nsteps == 0)
        hold_phase(&r, o->hold_s);
    connect_report(&r, rep, t0, rss0);
    if (o->nsteps > 0 && r.ready > 0)
        steps_phase(&r, rep);
    set_int(rep, "still_open", r.ready);
    json_object_set_new(rep, "interrupted", json_boolean(stop_requested()));
    json_object_set_new(rep, "failures", failures_json(&r));
    set_real(rep, "client_cpu_seconds", (double)self_cpu_ns() / 1e9, 1000);
    char *text = json_dumps(rep, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(rep);
    rc = r.ready > 0 ? 0 : -1;
out:
    chat_run_free(&r);
    return rc;
}
