/* fcgi_conn.h -- one FastCGI connection from nginx, served by a worker
 * coroutine: the next request's parameters, its body, its answer.
 *
 * A connection carries one request at a time (FCGI_MPXS_CONNS is 0: a
 * BEGIN_REQUEST while one is open is refused with CANT_MPX_CONN). Reading
 * answers management records on the way (GET_VALUES, unknown types) and
 * skips records of requests that are not open. Where a read or write would
 * block, the coroutine sleeps on `sleeper` until the socket's watch wakes
 * it or the time limit passes. The watch is the owner's (loop_server.c): it
 * is in the loop's epoll set, edge-triggered, for EPOLLIN and EPOLLRDHUP,
 * and calls fcgi_conn_event() on any event; fcgi_conn adds EPOLLOUT only
 * while a write waits, so that answers sent at once cost no write-space
 * event. A read that returns less than asked has emptied the socket, so
 * the next one waits for an event instead of being answered EAGAIN; once
 * the peer has closed its side (EPOLLRDHUP), every read is made, since the
 * end of the stream stays to be read after the data.
 * Parameters are bounded (FCGI_PARAMS_MAX): a peer that sends more is
 * disconnected. */
#ifndef LOGIN_FCGI_CONN_H
#define LOGIN_FCGI_CONN_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#define FCGI_PARAMS_MAX (256 * 1024)
#define FCGI_MAX_CONNS 1024 /* answered to GET_VALUES; the server enforces it */

struct fcgi_conn {
    int fd;
    struct loop_watch *watch;    /* the owner's, registered for CONN_EVENTS */
    struct loop_sleeper sleeper; /* the worker, while it waits for the socket */
    unsigned char *in;           /* bytes read, from in_off to in_len unconsumed */
    size_t in_off, in_len;
    bool drained;     /* the last read emptied the socket and no event came since */
    bool peer_closed; /* an event said the peer shut its side or the socket failed */
    /* the open request */
    unsigned request_id; /* 0: none */
    bool keep_conn, params_done, body_done, aborted;
    unsigned char *params_raw; /* PARAMS content so far */
    size_t params_len, params_cap;
    char *strings; /* the parameters as "NAME=value" strings */
    char **envp;   /* pointers to them, NULL-terminated (CGI style) */
    const unsigned char *body; /* unread part of the current STDIN record */
    size_t body_len;
    size_t record_end; /* in_off after the current STDIN record and padding */
    /* the answer: STDOUT records being filled */
    unsigned char *out;
    size_t out_len, out_cap, out_record; /* out_record: offset of the open record's header */
};

/* The events a connection's watch is registered for (edge-triggered). */
#define FCGI_CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)

/* Set up c for the accepted, non-blocking socket fd, whose watch (in this
 * thread's loop, for FCGI_CONN_EVENTS) calls fcgi_conn_event(). */
void fcgi_conn_init(struct fcgi_conn *c, int fd, struct loop_watch *watch);

/* The watch saw `events` on c's socket: input may wait again, and the
 * worker waiting for the socket, if any, wakes. */
void fcgi_conn_event(struct fcgi_conn *c, uint32_t events);

/* Free c's buffers (not the socket). */
void fcgi_conn_release(struct fcgi_conn *c);

/* Read until a request's parameters are complete, sleeping at most
 * timeout_ms for each piece once a record has begun. Returns 1 with a
 * request open, 0 when nothing more is waiting (the connection is idle),
 * -1 when it must be closed: the peer closed it, broke the protocol or
 * went silent mid-record, or the socket failed. */
int fcgi_conn_next_request(struct fcgi_conn *c, int timeout_ms);

/* The open request's parameter `name`, or NULL. Borrowed until
 * fcgi_conn_finish(). */
const char *fcgi_conn_param(const struct fcgi_conn *c, const char *name);

/* All of them as "NAME=value" strings, NULL-terminated (params.h reads
 * them so). Borrowed until fcgi_conn_finish(). */
char *const *fcgi_conn_envp(const struct fcgi_conn *c);

/* Read up to len bytes of the request body. Returns the count, 0 at its
 * end, -1 when the request was aborted or the connection failed. */
long fcgi_conn_read_body(struct fcgi_conn *c, void *buf, size_t len, int timeout_ms);

/* Append len bytes to the answer (sent by fcgi_conn_finish()). */
void fcgi_conn_write(struct fcgi_conn *c, const void *data, size_t len);

/* Send the answer and END_REQUEST, and close the request. Returns 0, or -1
 * when the connection failed (it must be closed then). */
int fcgi_conn_finish(struct fcgi_conn *c, int timeout_ms);

/* Whether the web server asked to keep the connection after the request. */
bool fcgi_conn_keep(const struct fcgi_conn *c);

#endif
