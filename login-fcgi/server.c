/* server.c -- worker threads around FCGX_Accept_r, keep-alive handling and
 * the graceful stop.
 *
 * nginx keeps FastCGI connections open (fastcgi_keep_conn), and libfcgi
 * blocks a worker reading the next request of its connection. So that idle
 * kept connections cannot starve new ones waiting in the listen backlog, a
 * worker polls its kept connection together with the listen socket and
 * gives the connection up when a new one waits and no worker is accepting.
 * To stop, the main thread sets `stopping`, shuts the listen socket down
 * and interrupts idle workers with SIGUSR1 until each has exited; busy
 * workers finish their request first. */
#include "server.h"

#include "dispatch.h"
#include "log.h"
#include "login_group.h"
#include "request.h"
#include "settings.h"
#include "store.h"
#include "util.h"
#include "wx_client.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEEPALIVE_IDLE_MS 30000 /* give up a kept connection idle this long */
#define POLL_SLICE_MS 250

struct slot {
    struct worker w;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    bool idle;   /* waiting for a request: may be interrupted */
    bool exited;
};

static int listen_fd = -1;
static atomic_bool stopping;
static atomic_int accept_waiters;

static void on_sigusr1(int sig)
{
    (void)sig; /* only interrupts blocking calls */
}

static void set_idle(struct slot *s, bool idle)
{
    pthread_mutex_lock(&s->lock);
    s->idle = idle;
    pthread_mutex_unlock(&s->lock);
}

/* Wait on a kept connection. Returns true to read the next request from it,
 * false when it was given up (closed) or when stopping. */
static bool keep_connection(FCGX_Request *req)
{
    int idle_ms = 0;
    while (!atomic_load(&stopping)) {
        bool watch_listen = atomic_load(&accept_waiters) == 0;
        struct pollfd fds[2] = {{.fd = req->ipcFd, .events = POLLIN},
                                {.fd = listen_fd, .events = POLLIN}};
        int n = poll(fds, watch_listen ? 2 : 1, POLL_SLICE_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (fds[0].revents)
            return true;
        if (watch_listen && fds[1].revents)
            break; /* a new connection waits and nobody accepts */
        if ((idle_ms += POLL_SLICE_MS) >= KEEPALIVE_IDLE_MS)
            break;
    }
    FCGX_Free(req, 1);
    return false;
}

/* Accept the next request (from the kept connection or a new one). */
static int next_request(struct slot *s, FCGX_Request *req)
{
    set_idle(s, true);
    if (req->ipcFd >= 0)
        keep_connection(req);
    if (atomic_load(&stopping)) {
        set_idle(s, false);
        return -1;
    }
    bool accepting = req->ipcFd < 0;
    if (accepting)
        atomic_fetch_add(&accept_waiters, 1);
    int rc = FCGX_Accept_r(req);
    if (accepting)
        atomic_fetch_sub(&accept_waiters, 1);
    set_idle(s, false);
    return rc;
}

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, 0) != 0) {
        log_error("w%d FCGX_InitRequest failed", s->w.id);
    } else {
        while (!atomic_load(&stopping)) {
            int rc = next_request(s, &req);
            if (rc < 0) {
                if (!atomic_load(&stopping)) {
                    log_warn("w%d FCGX_Accept_r failed (%d): retrying", s->w.id, rc);
                    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
                }
                continue;
            }
            s->w.served++;
            dispatch_request(&s->w, &req);
            FCGX_Finish_r(&req);
        }
        FCGX_Free(&req, 1);
    }
    pthread_mutex_lock(&s->lock);
    s->exited = true;
    s->idle = false;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Open the listen socket; a Unix socket is made connectable by nginx. */
static int open_listen(const char *addr)
{
    int fd = FCGX_OpenSocket(addr, 1024);
    if (fd < 0) {
        log_error("cannot listen on %s: %s", addr, strerror(errno));
        return -1;
    }
    if (!strchr(addr, ':') && chmod(addr, 0666) < 0)
        log_warn("chmod %s: %s", addr, strerror(errno));
    return fd;
}

static void install_sigusr1(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1; /* no SA_RESTART: blocking calls return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

/* Create the slots and their resources; start the threads. */
static int start_workers(const struct settings *cfg, struct login_group *logins,
                         struct slot *slots, int n)
{
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        pthread_mutex_init(&s->lock, NULL);
        s->w = (struct worker){.id = i + 1, .cfg = cfg, .logins = logins};
        char name[32];
        snprintf(name, sizeof(name), "w%d", i + 1);
        s->w.store = store_new(cfg->database_url, name);
        s->w.wx = wx_client_new(cfg);
        if (!s->w.wx) {
            log_error("w%d cannot create a libcurl handle", i + 1);
            return -1;
        }
        int rc = pthread_create(&s->thread, NULL, worker_main, s);
        if (rc != 0) {
            log_error("w%d pthread_create: %s", i + 1, strerror(rc));
            return -1;
        }
        s->started = true;
    }
    return 0;
}

/* Stop: no new connections, interrupt idle workers until all have exited. */
static void stop_workers(struct slot *slots, int n)
{
    atomic_store(&stopping, true);
    FCGX_ShutdownPending();
    shutdown(listen_fd, SHUT_RDWR);
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++) {
            struct slot *s = &slots[i];
            if (!s->started)
                continue;
            pthread_mutex_lock(&s->lock);
            if (!s->exited) {
                running++;
                if (s->idle)
                    pthread_kill(s->thread, SIGUSR1);
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (running == 0)
            break;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
}

static void free_workers(struct slot *slots, int n)
{
    for (int i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        if (s->started)
            pthread_join(s->thread, NULL);
        store_free(s->w.store);
        wx_client_free(s->w.wx);
        pthread_mutex_destroy(&s->lock);
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

/* Wait for SIGTERM or SIGINT (blocked in this thread). */
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

int server_run(const struct settings *cfg)
{
    install_sigusr1();
    listen_fd = open_listen(cfg->fcgi_listen);
    if (listen_fd < 0)
        return -1;
    int n = (int)cfg->workers;
    struct slot *slots = xcalloc((size_t)n, sizeof(*slots));
    size_t n_login_stores = (size_t)cfg->login_batches;
    struct store **login_stores = new_login_stores(cfg, n_login_stores);
    struct login_group *logins = login_group_new((size_t)cfg->login_batch_max, login_stores,
                                                 n_login_stores, store_login_batch);
    int rc = start_workers(cfg, logins, slots, n);
    if (rc == 0) {
        log_info("listening on %s with %d workers", cfg->fcgi_listen, n);
        int sig = wait_for_stop_signal();
        log_info("%s: finishing in-flight requests", strsignal(sig));
    }
    stop_workers(slots, n);
    free_workers(slots, n);
    login_group_free(logins);
    free_login_stores(login_stores, n_login_stores);
    close(listen_fd);
    if (!strchr(cfg->fcgi_listen, ':'))
        unlink(cfg->fcgi_listen);
    log_info("stopped");
    return rc;
}
