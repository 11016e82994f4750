/* request.h -- one FastCGI request as the handlers see it: its CGI
 * variables, its worker's resources (database store, WeChat client), body
 * reading with a byte count, and answering exactly once. Handlers run in
 * a worker coroutine (server.c): reading the body, like the store's and
 * the WeChat client's calls, lets the other workers run while it waits. */
#ifndef LOGIN_REQUEST_H
#define LOGIN_REQUEST_H

#include "reply.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fcgi_conn;
struct settings;
struct store;
struct wx_client;

/* What each worker coroutine owns; borrowed by its requests. */
struct login_group;

struct worker {
    int id;
    const struct settings *cfg;
    struct store *store;
    struct login_group *logins; /* shared by all workers */
    struct wx_client *wx;
    unsigned long served;
};

struct request {
    struct fcgi_conn *fcgi;
    struct worker *w;
    const struct settings *cfg;
    const char *method;       /* REQUEST_METHOD, never NULL */
    const char *path;         /* SCRIPT_NAME (nginx: $uri), never NULL */
    const char *query;        /* QUERY_STRING, never NULL */
    const char *content_type; /* CONTENT_TYPE or NULL */
    long long content_length; /* CONTENT_LENGTH, -1 when absent or invalid */
    long long body_read;      /* bytes of the body read so far */
    bool body_done;           /* the end of the body was reached */
    enum envelope envelope;
    const char *allow; /* methods of the matched route ("GET, POST"), for 405 */
    int status;    /* the status answered, 0 before */
    char tag[64];  /* "w3#17" for log lines */
    char note[256]; /* what the access log line adds: "login: uid 5, ..." */
};

/* Fill *r from the FastCGI request open on fcgi. */
void request_init(struct request *r, struct fcgi_conn *fcgi, struct worker *w);

/* A CGI variable of the request, or NULL. Borrowed from the request. */
const char *request_var(const struct request *r, const char *name);

/* All of them, as "NAME=value" strings (params.h). */
char *const *request_envp(const struct request *r);

/* Read up to len body bytes into buf. Returns the count (0 at the end of the
 * body) or -1 when the web server's stream failed or aborted the request. */
long request_read(struct request *r, char *buf, size_t len);

/* Read and discard what is left of the body, at most `limit` bytes. Returns
 * 0 when the body was consumed to its end, -1 otherwise. */
int request_drain(struct request *r, long long limit);

/* Answer with status and body (stolen). Only the first answer is sent. */
void request_reply(struct request *r, int status, json_t *body);

/* Say what the request did or why it failed, in its access log line
 * (dispatch.c), instead of a line of its own. The last note wins. */
void request_note(struct request *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Answer an error in the request's envelope, with a printf-style message.
 * `error` is the ERR_* code. */
void request_fail(struct request *r, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
