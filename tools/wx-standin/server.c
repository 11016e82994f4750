/* server.c -- listening, the epoll loop and its periodic work. */
#include "server.h"
#include "conn.h"
#include "delay.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define CONNS_MAX 4096
#define TICK_MS 1000        /* timeouts checked this often */
#define SWEEP_MS 60000      /* old codes forgotten this often */
#define ACCEPT_RETRY_MS 100 /* after running out of descriptors */

long long server_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int server_watch(struct server *srv, int fd, struct watch *w, uint32_t events, bool add)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(srv->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) == 0)
        return 0;
    log_error("server: epoll_ctl(fd %d): %s", fd, strerror(errno));
    return -1;
}

/* Bind and listen on host:port (a name or an address; "" for every
 * address). Returns the socket or -1 with the reason in err. */
static int listen_on(const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, one = 1;
    snprintf(err, errlen, "%s:%s: no address", host, port);
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
            snprintf(err, errlen, "%s:%s: %s", host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* A descriptor that reads SIGTERM and SIGINT (blocked for the process). */
static int signal_open(char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
    return fd;
}

/* Connections allowed: CONNS_MAX, fewer when descriptors are short. */
static size_t conns_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < CONNS_MAX + 64)
        return rl.rlim_cur > 128 ? (size_t)rl.rlim_cur - 64 : 64;
    return CONNS_MAX;
}

int server_open(struct server *srv, struct standin *app, char *err, size_t errlen)
{
    memset(srv, 0, sizeof(*srv));
    srv->app = app;
    srv->listen_watch.kind = WATCH_LISTEN;
    srv->signal_watch.kind = WATCH_SIGNAL;
    srv->max_conns = conns_limit();
    srv->epfd = srv->signal_fd = -1;
    srv->listen_fd = listen_on(app->cfg->host, app->cfg->port, err, errlen);
    if (srv->listen_fd < 0)
        return -1;
    srv->signal_fd = signal_open(err, errlen);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->signal_fd < 0 || srv->epfd < 0) {
        if (srv->epfd < 0)
            snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        server_close(srv);
        return -1;
    }
    if (server_watch(srv, srv->listen_fd, &srv->listen_watch, EPOLLIN, true) < 0 ||
        server_watch(srv, srv->signal_fd, &srv->signal_watch, EPOLLIN, true) < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        server_close(srv);
        return -1;
    }
    return 0;
}

/* Stop (or restart) watching the listening socket. */
static void accept_pause(struct server *srv, bool pause, long long resume_ms)
{
    if (srv->accept_paused == pause)
        return;
    if (server_watch(srv, srv->listen_fd, &srv->listen_watch, pause ? 0 : EPOLLIN, false) == 0)
        srv->accept_paused = pause;
    srv->accept_resume_ms = resume_ms;
}

void server_conn_closed(struct server *srv)
{
    if (srv->accept_paused && srv->nconns < srv->max_conns &&
        server_now_ms() >= srv->accept_resume_ms)
        accept_pause(srv, false, 0);
}

/* "ip:port" of an accepted peer. */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        port = ntohs(sin6->sin6_port);
    }
    snprintf(out, outlen, "%s:%d", host, port);
}

/* Accept waiting connections, up to the connection limit. */
static void server_accept(struct server *srv)
{
    for (int i = 0; i < 64; i++) {
        if (srv->nconns >= srv->max_conns) {
            log_warn("server: %zu connections open; not accepting more for now", srv->nconns);
            accept_pause(srv, true, 0);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd =
            accept4(srv->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warn("server: accept: %s; pausing", strerror(errno));
                accept_pause(srv, true, server_now_ms() + ACCEPT_RETRY_MS);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_error("server: accept: %s", strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char peer[80];
        peer_text(&ss, peer, sizeof(peer));
        conn_open(srv, fd, peer);
    }
}

/* Read the signal that arrived and stop. */
static void server_on_signal(struct server *srv)
{
    struct signalfd_siginfo si;
    ssize_t n = read(srv->signal_fd, &si, sizeof(si));
    if (n == (ssize_t)sizeof(si)) {
        log_info("server: signal %u, exiting", si.ssi_signo);
        srv->stop = true;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        log_error("server: reading the signal descriptor: %s", strerror(errno));
        srv->stop = true;
    }
}

/* Milliseconds epoll may sleep: until the next delayed answer or tick. */
static int wait_ms(const struct server *srv, long long now, long long next_tick)
{
    long long until = next_tick, due = delay_next_ms(srv);
    if (due >= 0 && due < until)
        until = due;
    if (srv->accept_paused && srv->accept_resume_ms > now && srv->accept_resume_ms < until)
        until = srv->accept_resume_ms;
    return until <= now ? 0 : (int)(until - now);
}

/* The work done once per second, and the code sweep once per minute. */
static void server_tick(struct server *srv, long long now, long long *next_sweep)
{
    conn_check_timeouts(srv, now);
    if (now >= *next_sweep) {
        size_t n = codes_sweep(srv->app->codes, now);
        if (n)
            log_debug("server: forgot %zu old codes, %zu held", n, codes_count(srv->app->codes));
        *next_sweep = now + SWEEP_MS;
    }
}

int server_run(struct server *srv)
{
    struct epoll_event events[MAX_EVENTS];
    long long now = server_now_ms(), next_tick = now + TICK_MS, next_sweep = now + SWEEP_MS;
    while (!srv->stop) {
        int n = epoll_wait(srv->epfd, events, MAX_EVENTS, wait_ms(srv, now, next_tick));
        if (n < 0 && errno != EINTR) {
            log_error("server: epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct watch *w = events[i].data.ptr;
            if (w->kind == WATCH_LISTEN)
                server_accept(srv);
            else if (w->kind == WATCH_SIGNAL)
                server_on_signal(srv);
            else
                conn_on_events(w, events[i].events);
        }
        now = server_now_ms();
        delay_run_due(srv, now);
        if (now >= next_tick) {
            server_tick(srv, now, &next_sweep);
            next_tick = now + TICK_MS;
        }
        server_conn_closed(srv); /* resume accepting when it may */
        conn_free_closed(srv);
    }
    return 0;
}

void server_close(struct server *srv)
{
    conn_close_all(srv);
    delay_free_all(srv);
    int *fds[] = {&srv->listen_fd, &srv->signal_fd, &srv->epfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0 && close(*fds[i]) < 0)
            log_warn("server: close: %s", strerror(errno));
        *fds[i] = -1;
    }
}
