/* server.c -- the FastCGI server on one event loop (see server.h).
 *
 * Every connection from nginx stays in the epoll set, edge-triggered, for
 * its whole life. While no worker serves it, it is idle; when it becomes
 * readable it is queued, and the next free worker coroutine takes it and
 * serves requests from it until no more input waits (back to idle), or it
 * closes. While a worker serves it, the connection's events wake that
 * worker if it waits for the socket. So idle kept connections cost no
 * worker, and a worker never blocks the thread: where it would wait (the
 * body, WeChat, PostgreSQL) the loop runs the others.
 *
 * To stop (SIGTERM, SIGINT: read from a signalfd), the server closes the
 * listen socket and the connections no worker serves, wakes the idle
 * workers so that they return, and turns the loop until the busy ones have
 * finished their request. */
#include "server.h"

#include "coro.h"
#include "dispatch.h"
#include "fcgi_conn.h"
#include "listen.h"
#include "log.h"
#include "login_group.h"
#include "loop.h"
#include "request.h"
#include "settings.h"
#include "store.h"
#include "util.h"
#include "wx_client.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
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

struct server {
    const char *addr;
    int listen_fd, signal_fd;
    struct loop_watch listen_watch, signal_watch;
    bool listening, stopping;
    size_t n_conns;
    struct conn *conns;
    struct conn *queue_head, **queue_tail;
    struct slot *idle_workers;
    int running_workers;
};

static struct server srv = {.listen_fd = -1, .signal_fd = -1};

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
    loop_watch_remove(c->fc.fd);
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
        set_listening(true); /* below FCGI_MAX_CONNS again */
}

static void conn_ready(struct loop_watch *w, uint32_t events)
{
    struct conn *c = (struct conn *)w;
    if (c->state == CONN_BUSY)
        loop_wake(&c->fc.sleeper);
    else if (c->state == CONN_IDLE && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        queue_conn(c);
}

static void add_conn(int fd)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->watch.ready = conn_ready;
    fcgi_conn_init(&c->fc, fd);
    if (loop_watch_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->watch) < 0) {
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

static void accept_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    while (srv.n_conns < FCGI_MAX_CONNS) {
        int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_conn(fd);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            log_warn("accept: %s", strerror(errno)); /* EMFILE: retried on the next turn */
        if (errno != EINTR && errno != ECONNABORTED)
            return;
    }
    set_listening(false); /* at FCGI_MAX_CONNS: the rest wait in the backlog */
}

static void set_listening(bool on)
{
    if (on == srv.listening || srv.listen_fd < 0)
        return;
    if (on && loop_watch_add(srv.listen_fd, EPOLLIN, &srv.listen_watch) < 0)
        return;
    if (!on)
        loop_watch_remove(srv.listen_fd);
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
 * return (busy ones after their request). */
static void begin_stop(void)
{
    srv.stopping = true;
    set_listening(false);
    listen_close(srv.listen_fd, srv.addr);
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

static void signal_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    struct signalfd_siginfo si;
    if (read(srv.signal_fd, &si, sizeof(si)) != sizeof(si) || srv.stopping)
        return;
    log_info("%s: finishing in-flight requests", strsignal((int)si.ssi_signo));
    begin_stop();
}

static int open_signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    srv.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (srv.signal_fd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    srv.signal_watch.ready = signal_ready;
    return loop_watch_add(srv.signal_fd, EPOLLIN, &srv.signal_watch);
}

/* Create the workers' resources and coroutines, and run each up to its
 * first wait for a connection. */
static int start_workers(const struct settings *cfg, struct login_group *logins,
                         struct slot *slots, int n)
{
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        s->w = (struct worker){.id = i + 1, .cfg = cfg, .logins = logins};
        char name[32];
        snprintf(name, sizeof(name), "w%d", i + 1);
        s->w.store = store_new(cfg->database_url, name);
        s->w.wx = wx_client_new(cfg);
        s->co = coro_new(worker_main, s, WORKER_STACK);
        if (!s->w.wx || !s->co) {
            log_error("w%d cannot be created (libcurl handle or stack)", i + 1);
            return -1;
        }
        srv.running_workers++;
        coro_resume(s->co);
    }
    return 0;
}

static void free_workers(struct slot *slots, int n)
{
    for (int i = 0; i < n; i++) {
        coro_free(slots[i].co);
        store_free(slots[i].w.store);
        wx_client_free(slots[i].w.wx);
    }
    free(slots);
}

/* The login group's own connections, one per batch that may run at once
 * (LOGIN_BATCHES). */
static struct store **new_login_stores(const struct settings *cfg, size_t n)
{
    struct store **stores = xcalloc(n, sizeof(*stores));
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "login%zu", i + 1);
        stores[i] = store_new(cfg->database_url, name);
    }
    return stores;
}

static void free_login_stores(struct store **stores, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_free(stores[i]);
    free(stores);
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

static int open_sockets(const struct settings *cfg)
{
    srv.addr = cfg->fcgi_listen;
    srv.queue_tail = &srv.queue_head;
    srv.listen_watch.ready = accept_ready;
    if (loop_init() < 0 || open_signal_fd() < 0)
        return -1;
    srv.listen_fd = listen_open(cfg->fcgi_listen, LISTEN_BACKLOG);
    if (srv.listen_fd < 0)
        return -1;
    set_listening(true);
    return srv.listening ? 0 : -1;
}

static void close_sockets(void)
{
    listen_close(srv.listen_fd, srv.addr);
    if (srv.signal_fd >= 0)
        close(srv.signal_fd);
    loop_free();
}

int server_run(const struct settings *cfg)
{
    if (open_sockets(cfg) < 0) {
        close_sockets();
        return -1;
    }
    int n = (int)cfg->workers;
    struct slot *slots = xcalloc((size_t)n, sizeof(*slots));
    size_t n_login_stores = (size_t)cfg->login_batches;
    struct store **login_stores = new_login_stores(cfg, n_login_stores);
    struct login_group *logins = login_group_new((size_t)cfg->login_batch_max, login_stores,
                                                 n_login_stores, store_login_batch);
    int rc = start_workers(cfg, logins, slots, n);
    if (rc == 0)
        log_info("listening on %s with %d workers", cfg->fcgi_listen, n);
    else
        begin_stop();
    if (run_loop() < 0)
        rc = -1;
    free_workers(slots, n);
    login_group_free(logins);
    free_login_stores(login_stores, n_login_stores);
    close_sockets();
    log_info("stopped");
    return rc;
}
