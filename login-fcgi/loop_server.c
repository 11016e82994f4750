/* loop_server.c -- one event loop's share of the FastCGI server (see
 * loop_server.h). The state below is per thread: each loop's own.
 *
 * Every connection from nginx stays in its loop's epoll set, edge-
 * triggered, for its whole life. While no worker serves it, it is idle;
 * when it becomes readable it is queued, and the next free worker
 * coroutine takes it and serves requests from it until no more input
 * waits (back to idle), or it closes. While a worker serves it, the
 * connection's events wake that worker if it waits for the socket. So
 * idle kept connections cost no worker, and a worker never blocks the
 * thread: where it would wait (the body, WeChat, PostgreSQL) the loop runs
 * the others.
 *
 * The loops share the listen socket (EPOLLEXCLUSIVE, one connection per
 * wake-up, so that they share the connections). To stop (the stop
 * eventfd), a loop stops accepting, closes the connections no worker
 * serves, wakes the idle workers so that they return, and turns until the
 * busy ones have finished their request. */
#include "loop_server.h"

#include "coro.h"
#include "dispatch.h"
#include "fcgi_conn.h"
#include "log.h"
#include "loop.h"
#include "request.h"
#include "settings.h"
#include "store.h"
#include "util.h"
#include "wx_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 30000 /* silence allowed in the middle of a request */
#define WORKER_STACK (512 * 1024)

enum conn_state { CONN_IDLE, CONN_QUEUED, CONN_BUSY };

struct conn {
    struct loop_watch watch;
    struct fcgi_conn fc;
    enum conn_state state;
    struct conn *prev, *next; /* all connections */
    struct conn *next_queued;
};

struct slot {
    struct worker w;
    struct coro *co;
    struct loop_sleeper sleeper; /* waiting for a connection */
    struct slot *next_idle;
};

struct loop_workers {
    struct slot *slots;
    int n;
};

/* The state of the loop running on this thread. */
struct server {
    int listen_fd, stop_fd;
    struct loop_watch listen_watch, stop_watch;
    bool listening, stopping;
    size_t n_conns, max_conns;
    struct conn *conns;
    struct conn *queue_head, **queue_tail;
    struct slot *idle_workers;
    int running_workers;
};

static _Thread_local struct server srv;

static void set_listening(bool on);

/* A worker that waits for a connection, woken. */
static void wake_a_worker(void)
{
    struct slot *s = srv.idle_workers;
    if (!s)
        return;
    srv.idle_workers = s->next_idle;
    loop_wake(&s->sleeper);
}

static void queue_conn(struct conn *c)
{
    c->state = CONN_QUEUED;
    c->next_queued = NULL;
    *srv.queue_tail = c;
    srv.queue_tail = &c->next_queued;
    wake_a_worker();
}

static void close_conn(struct conn *c)
{
    loop_watch_remove(c->fc.fd, &c->watch);
    close(c->fc.fd);
    fcgi_conn_release(&c->fc);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    srv.n_conns--;
    if (!srv.listening && !srv.stopping)
        set_listening(true); /* below the limit again */
}

static void conn_ready(struct loop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    fcgi_conn_event(&c->fc, events); /* wakes its worker when one waits for it */
    if (c->state == CONN_IDLE && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        queue_conn(c);
}

static void add_conn(int fd)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->watch.ready = conn_ready;
    fcgi_conn_init(&c->fc, fd, &c->watch);
    if (loop_watch_add(fd, FCGI_CONN_EVENTS, &c->watch) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = srv.conns;
    if (srv.conns)
        srv.conns->prev = c;
    srv.conns = c;
    srv.n_conns++;
    c->state = CONN_IDLE;
    queue_conn(c); /* nginx writes its request right after connecting */
}

/* One connection per call: the listen socket stays readable while more
 * wait, and the other loops take their share of them. */
static void accept_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0)
        add_conn(fd);
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log_warn("accept: %s", strerror(errno)); /* EMFILE: retried on the next turn */
    if (srv.n_conns >= srv.max_conns)
        set_listening(false); /* the rest wait in the backlog, or go to another loop */
}

static void set_listening(bool on)
{
    if (on == srv.listening || srv.listen_fd < 0)
        return;
    if (on && loop_watch_add(srv.listen_fd, EPOLLIN | EPOLLEXCLUSIVE, &srv.listen_watch) < 0)
        return;
    if (!on)
        loop_watch_remove(srv.listen_fd, &srv.listen_watch);
    srv.listening = on;
}

/* The next queued connection for worker s, sleeping while there is none.
 * NULL when the server stops. */
static struct conn *take_conn(struct slot *s)
{
    for (;;) {
        if (srv.stopping)
            return NULL;
        struct conn *c = srv.queue_head;
        if (c) {
            srv.queue_head = c->next_queued;
            if (!srv.queue_head)
                srv.queue_tail = &srv.queue_head;
            return c;
        }
        s->next_idle = srv.idle_workers;
        srv.idle_workers = s;
        loop_sleep(&s->sleeper, -1);
    }
}

/* Serve c's requests until no more input waits (c idles again) or c closes. */
static void serve_conn(struct slot *s, struct conn *c)
{
    c->state = CONN_BUSY;
    for (;;) {
        int rc = fcgi_conn_next_request(&c->fc, IO_TIMEOUT_MS);
        if (rc == 0 && !srv.stopping) {
            c->state = CONN_IDLE;
            return;
        }
        if (rc <= 0)
            break;
        s->w.served++;
        dispatch_request(&s->w, &c->fc);
        if (fcgi_conn_finish(&c->fc, IO_TIMEOUT_MS) < 0 || !fcgi_conn_keep(&c->fc) ||
            srv.stopping)
            break;
    }
    close_conn(c);
}

static void worker_main(void *arg)
{
    struct slot *s = arg;
    struct conn *c;
    while ((c = take_conn(s)) != NULL)
        serve_conn(s, c);
    srv.running_workers--;
}

/* Stop: no new connections; close those no worker serves; idle workers
 * return (busy ones after their request). The main thread closes the
 * listen socket once every loop has stopped. */
static void begin_stop(void)
{
    srv.stopping = true;
    set_listening(false);
    srv.listen_fd = -1;
    struct conn *c = srv.conns;
    while (c) {
        struct conn *next = c->next;
        if (c->state != CONN_BUSY)
            close_conn(c);
        c = next;
    }
    srv.queue_head = NULL;
    srv.queue_tail = &srv.queue_head;
    while (srv.idle_workers)
        wake_a_worker();
}

/* The stop eventfd fired. It is never read: unwatched, it stops waking
 * the loop. begin_stop() frees connections whose events may still wait in
 * this epoll batch (nginx closes them when it stops too): the loop drops
 * those (loop_watch_remove()). */
static void stop_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    loop_watch_remove(srv.stop_fd, &srv.stop_watch);
    if (!srv.stopping)
        begin_stop();
}

struct loop_workers *loop_workers_new(const struct settings *cfg, struct login_group *logins,
                                      int first_id, int n)
{
    struct loop_workers *ws = xcalloc(1, sizeof(*ws));
    ws->slots = xcalloc((size_t)n, sizeof(*ws->slots));
    ws->n = n;
    for (int i = 0; i < n; i++) {
        struct slot *s = &ws->slots[i];
        int id = first_id + i;
        s->w = (struct worker){.id = id, .cfg = cfg, .logins = logins};
        char name[32];
        snprintf(name, sizeof(name), "w%d", id);
        s->w.store = store_new(cfg->database_url, name);
        s->w.wx = wx_client_new(cfg);
        s->co = coro_new(worker_main, s, WORKER_STACK);
        if (!s->w.wx || !s->co) {
            log_error("w%d cannot be created (libcurl handle or stack)", id);
            loop_workers_free(ws);
            return NULL;
        }
    }
    return ws;
}

void loop_workers_free(struct loop_workers *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n; i++) {
        coro_free(ws->slots[i].co);
        store_free(ws->slots[i].w.store);
        wx_client_free(ws->slots[i].w.wx);
    }
    free(ws->slots);
    free(ws);
}

/* Turn the loop until every worker has returned. */
static int run_loop(void)
{
    while (srv.running_workers > 0)
        if (loop_turn(-1) < 0) {
            if (!srv.stopping)
                begin_stop();
            return -1;
        }
    return 0;
}

int loop_server_run(struct loop_workers *ws, int listen_fd, int stop_fd, size_t max_conns)
{
    srv = (struct server){.listen_fd = listen_fd, .stop_fd = stop_fd, .max_conns = max_conns};
    srv.queue_tail = &srv.queue_head;
    srv.listen_watch.ready = accept_ready;
    srv.stop_watch.ready = stop_ready;
    int rc = loop_init();
    if (rc == 0)
        rc = loop_watch_add(srv.stop_fd, EPOLLIN, &srv.stop_watch);
    if (rc == 0) {
        set_listening(true);
        for (int i = 0; i < ws->n; i++) {
            srv.running_workers++;
            coro_resume(ws->slots[i].co); /* up to its first wait for a connection */
        }
        rc = run_loop();
    }
    loop_free();
    return rc;
}
