/* request.c -- request context: CGI variables, body, answering once. */
#include "request.h"

#include "fcgi_conn.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define REQUEST_BODY_TIMEOUT_MS 30000 /* silence allowed while the body arrives */

/* CONTENT_LENGTH as a number, -1 when missing or not a plain number. */
static long long parse_length(const char *text)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

void request_init(struct request *r, struct fcgi_conn *fcgi, struct worker *w)
{
    *r = (struct request){.fcgi = fcgi, .w = w, .cfg = w->cfg};
    r->method = request_var(r, "REQUEST_METHOD");
    r->path = request_var(r, "SCRIPT_NAME");
    if (!r->path || !*r->path)
        r->path = request_var(r, "DOCUMENT_URI");
    r->query = request_var(r, "QUERY_STRING");
    r->content_type = request_var(r, "CONTENT_TYPE");
    r->content_length = parse_length(request_var(r, "CONTENT_LENGTH"));
    if (!r->method)
        r->method = "";
    if (!r->path)
        r->path = "";
    if (!r->query)
        r->query = "";
    snprintf(r->tag, sizeof(r->tag), "w%d#%lu", w->id, w->served);
}

const char *request_var(const struct request *r, const char *name)
{
    return fcgi_conn_param(r->fcgi, name);
}

char *const *request_envp(const struct request *r)
{
    return fcgi_conn_envp(r->fcgi);
}

long request_read(struct request *r, char *buf, size_t len)
{
    if (r->body_done || len == 0)
        return 0;
    long n = fcgi_conn_read_body(r->fcgi, buf, len, REQUEST_BODY_TIMEOUT_MS);
    if (n < 0) {
        log_warn("%s reading the request body failed (aborted, or the web server went away)",
                 r->tag);
        return -1;
    }
    if (n == 0)
        r->body_done = true;
    r->body_read += n;
    return n;
}

int request_drain(struct request *r, long long limit)
{
    char buf[16384];
    long long drained = 0;
    while (!r->body_done && drained <= limit) {
        long n = request_read(r, buf, sizeof(buf));
        if (n < 0)
            return -1;
        drained += n;
    }
    return r->body_done ? 0 : -1;
}

void request_reply(struct request *r, int status, json_t *body)
{
    if (r->status) {
        json_decref(body);
        return;
    }
    r->status = status;
    if (!body) {
        status = r->status = 500;
        body = reply_error_body(r->envelope, "ERR_INTERNAL", "could not encode the answer");
    }
    char extra[64] = "";
    if (status == 405 && r->allow)
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", r->allow);
    reply_send(r->fcgi, status, extra, body);
}

void request_fail(struct request *r, int status, const char *error, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    request_reply(r, status, reply_error_body(r->envelope, error, message));
}

void request_note(struct request *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof(r->note), fmt, ap);
    va_end(ap);
}
