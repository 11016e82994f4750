/* server.h -- the stand-in's single-threaded server: one epoll set holding
 * the listening socket, a signalfd for SIGTERM/SIGINT and the
 * connections (conn.h); a heap of delayed answers (delay.h); and the
 * periodic work (idle connections every second, old codes every minute). */
#ifndef STANDIN_SERVER_H
#define STANDIN_SERVER_H

#include "standin.h"
#include "timers.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an epoll event is about: the first member of each watched object. */
enum watch_kind { WATCH_LISTEN, WATCH_SIGNAL, WATCH_CONN };
struct watch {
    enum watch_kind kind;
};

struct conn;

struct server {
    struct standin *app;
    int epfd, listen_fd, signal_fd;
    struct watch listen_watch, signal_watch;
    bool accept_paused;         /* at max_conns, or out of descriptors */
    long long accept_resume_ms; /* not before this time */
    struct conn *conns;         /* open connections (conn.c) */
    struct conn *closed;        /* closed during this turn, freed after it */
    size_t nconns, max_conns;
    unsigned long long next_conn_id;
    struct timer_heap delays; /* delayed answers (delay.c) */
    size_t ndelays;
    bool stop;
};

/* Listen on the settings' host:port, create the epoll set and the signal
 * descriptor (SIGTERM and SIGINT are blocked for the whole process).
 * Returns 0, or -1 with the reason in err (everything released). */
int server_open(struct server *srv, struct standin *app, char *err, size_t errlen);

/* Serve until SIGTERM or SIGINT. Returns 0, or -1 (logged) when epoll fails. */
int server_run(struct server *srv);

/* Close every connection and descriptor and drop the delayed answers. */
void server_close(struct server *srv);

/* Add (add = true) or change fd's registration: events (EPOLLIN,
 * EPOLLOUT) for watch w. Returns 0 or -1 (logged). */
int server_watch(struct server *srv, int fd, struct watch *w, uint32_t events, bool add);

/* A connection closed: accepting may resume. */
void server_conn_closed(struct server *srv);

/* The monotonic clock in milliseconds. */
long long server_now_ms(void);

#endif
