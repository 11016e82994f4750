/* server.c -- the FastCGI server on a few event loops (see server.h).
 *
 * The main thread opens the listen socket and the login group, starts
 * LOGIN_THREADS threads, each running an event loop with its share of the
 * workers, and waits for SIGTERM or SIGINT. Each loop accepts from the
 * shared listen socket (EPOLLEXCLUSIVE, one connection at a time, so that
 * the loops share them) and serves its own connections; the per-loop state
 * below is thread-local.
 *
 * Every connection from nginx stays in its loop's epoll set, edge-
 * triggered, for its whole life. While no worker serves it, it is idle; when it becomes
 * readable it is queued, and the next free worker coroutine takes it and
 * serves requests from it until no more input waits (back to idle), or it
 * closes. While a worker serves it, the connection's events wake that
 * worker if it waits for the socket. So idle kept connections cost no
 * worker, and a worker never blocks the thread: where it would wait (the
 * body, WeChat, PostgreSQL) the loop runs the others.
 *
 * To stop (SIGTERM, SIGINT), the main thread writes each loop's stop
 * eventfd: the loop stops accepting, closes the connections no worker
 * serves, wakes the idle workers so that they return, and turns until the
 * busy ones have finished their request. */
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
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

/* One loop's thread, as the main thread sees it. */
struct loop_thread {
    pthread_t thread;
    bool started;
    int stop_fd; /* eventfd: written to stop the loop */
    int listen_fd;
    size_t max_conns; /* its share of FCGI_MAX_CONNS */
    struct slot *slots;
    int n_slots;
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
        set_listening(true); /* below the limit again */
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

static void stop_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    if (!srv.stopping)
        begin_stop();
}

/* Create the workers' resources and coroutines (in the main thread; each
 * runs later on its loop's thread). Returns 0, or -1 (logged). */
static int new_workers(const struct settings *cfg, struct login_group *logins,
                       struct slot *slots, int first_id, int n)
{
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        int id = first_id + i;
        s->w = (struct worker){.id = id, .cfg = cfg, .logins = logins};
        char name[32];
        snprintf(name, sizeof(name), "w%d", id);
        s->w.store = store_new(cfg->database_url, name);
        s->w.wx = wx_client_new(cfg);
        s->co = coro_new(worker_main, s, WORKER_STACK);
        if (!s->w.wx || !s->co) {
            log_error("w%d cannot be created (libcurl handle or stack)", id);
            return -1;
        }
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

/* A loop's thread: its loop, its workers, until stopped. On a failure the
 * whole service stops (SIGTERM to the process). */
static void *loop_thread_main(void *arg)
{
    struct loop_thread *t = arg;
    srv = (struct server){
        .listen_fd = t->listen_fd, .stop_fd = t->stop_fd, .max_conns = t->max_conns};
    srv.queue_tail = &srv.queue_head;
    srv.listen_watch.ready = accept_ready;
    srv.stop_watch.ready = stop_ready;
    int rc = loop_init();
    if (rc == 0)
        rc = loop_watch_add(srv.stop_fd, EPOLLIN, &srv.stop_watch);
    if (rc == 0) {
        set_listening(true);
        for (int i = 0; i < t->n_slots; i++) {
            srv.running_workers++;
            coro_resume(t->slots[i].co); /* up to its first wait for a connection */
        }
        rc = run_loop();
    }
    loop_free();
    if (rc < 0) {
        log_error("an event loop failed: stopping");
        kill(getpid(), SIGTERM);
    }
    return NULL;
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

static int thread_count(const struct settings *cfg)
{
    long n = cfg->threads > 0 ? (long)cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return (int)(n < cfg->workers ? n : cfg->workers);
}

/* Start the loops, their workers spread evenly. Returns how many started. */
static int start_threads(const struct settings *cfg, struct login_group *logins, int listen_fd,
                         struct loop_thread *threads, int n)
{
    int next_id = 1;
    for (int i = 0; i < n; i++) {
        struct loop_thread *t = &threads[i];
        t->listen_fd = listen_fd;
        t->max_conns = FCGI_MAX_CONNS / (size_t)n;
        t->n_slots = (int)(cfg->workers / n + (i < cfg->workers % n));
        t->slots = xcalloc((size_t)t->n_slots, sizeof(*t->slots));
        t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (new_workers(cfg, logins, t->slots, next_id, t->n_slots) < 0 || t->stop_fd < 0)
            return i;
        next_id += t->n_slots;
        int rc = pthread_create(&t->thread, NULL, loop_thread_main, t);
        if (rc != 0) {
            log_error("pthread_create: %s", strerror(rc));
            return i;
        }
        t->started = true;
    }
    return n;
}

/* Wait for SIGTERM or SIGINT (blocked in every thread). */
static int wait_for_stop_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

/* Stop every loop, wait for its thread, free its workers. */
static void stop_threads(struct loop_thread *threads, int n)
{
    uint64_t one = 1;
    for (int i = 0; i < n; i++)
        if (threads[i].started && write(threads[i].stop_fd, &one, sizeof(one)) < 0)
            log_warn("writing a loop's stop eventfd: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct loop_thread *t = &threads[i];
        if (t->started)
            pthread_join(t->thread, NULL);
        if (t->stop_fd >= 0)
            close(t->stop_fd);
        free_workers(t->slots, t->n_slots);
    }
    free(threads);
}

int server_run(const struct settings *cfg)
{
    int listen_fd = listen_open(cfg->fcgi_listen, LISTEN_BACKLOG);
    if (listen_fd < 0)
        return -1;
    int n = thread_count(cfg);
    struct loop_thread *threads = xcalloc((size_t)n, sizeof(*threads));
    for (int i = 0; i < n; i++)
        threads[i].stop_fd = -1;
    size_t n_login_stores = (size_t)cfg->login_batches;
    struct store **login_stores = new_login_stores(cfg, n_login_stores);
    struct login_group *logins = login_group_new((size_t)cfg->login_batch_max, login_stores,
                                                 n_login_stores, store_login_batch);
    int rc = start_threads(cfg, logins, listen_fd, threads, n) == n ? 0 : -1;
    if (rc == 0) {
        log_info("listening on %s with %lld workers on %d threads", cfg->fcgi_listen,
                 cfg->workers, n);
        int sig = wait_for_stop_signal();
        log_info("%s: finishing in-flight requests", strsignal(sig));
    }
    stop_threads(threads, n);
    login_group_free(logins);
    free_login_stores(login_stores, n_login_stores);
    listen_close(listen_fd, cfg->fcgi_listen);
    log_info("stopped");
    return rc;
}
