/* reply.c -- JSON envelopes and FastCGI response output. */
#include "reply.h"

#include "fcgi_conn.h"
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>

json_t *reply_error_body(enum envelope envelope, const char *error, const char *message)
{
    json_t *body = json_object();
    if (envelope != ENVELOPE_WAFER2)
        json_object_set_new(body, WAFER_MAGIC, json_integer(1));
    if (envelope != ENVELOPE_WAFER)
        json_object_set_new(body, "code", json_integer(-1));
    json_object_set_new(body, "error", json_string(error));
    json_t *msg = json_string(message);
    json_object_set_new(body, "message", msg ? msg : json_string("(unprintable reason)"));
    return body;
}

const char *reply_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

void reply_send(struct fcgi_conn *out, int status, const char *extra_headers, json_t *body)
{
    size_t len;
    char *text = json_encode(body, &len);
    json_decref(body);
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "Status: %d %s\r\n"
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, reply_status_text(status), len, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        n = snprintf(head, sizeof(head), "Status: 500 Internal Server Error\r\n\r\n");
    fcgi_conn_write(out, head, (size_t)n);
    fcgi_conn_write(out, text, len);
    free(text);
}
