/* server.c -- the FastCGI server on a few event loops (see server.h).
 *
 * The main thread opens the listen socket and the login group, starts
 * LOGIN_THREADS threads, each running an event loop with its share of the
 * workers (loop_server.c), and waits for SIGTERM or SIGINT; then it writes
 * each loop's stop eventfd and waits for the threads to finish. */
#include "server.h"

#include "fcgi_conn.h"
#include "listen.h"
#include "log.h"
#include "login_group.h"
#include "loop_server.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024

/* One loop's thread, as the main thread sees it. */
struct loop_thread {
    pthread_t thread;
    bool started;
    int stop_fd; /* eventfd: written to stop the loop */
    int listen_fd;
    size_t max_conns; /* its share of FCGI_MAX_CONNS */
    struct loop_workers *workers;
};

/* A loop's thread. On a failure the whole service stops (SIGTERM to the
 * process, which the main thread waits for). */
static void *loop_thread_main(void *arg)
{
    struct loop_thread *t = arg;
    if (loop_server_run(t->workers, t->listen_fd, t->stop_fd, t->max_conns) < 0) {
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
        int n_workers = (int)(cfg->workers / n + (i < cfg->workers % n));
        t->workers = loop_workers_new(cfg, logins, next_id, n_workers);
        t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!t->workers || t->stop_fd < 0)
            return i;
        next_id += n_workers;
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
        loop_workers_free(t->workers);
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
