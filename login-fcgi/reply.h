/* reply.h -- the JSON answers of login-fcgi: the envelopes the two client
 * SDKs understand, and writing a status, headers and body to FastCGI.
 *
 * wafer (0.8.4) reads errors as {MAGIC:1, error, message} and successes as
 * bodies WITHOUT the MAGIC key; wafer2 (2.x) reads {code:0, data} and
 * {code:-1, error, message}. */
#ifndef LOGIN_REPLY_H
#define LOGIN_REPLY_H

#include <jansson.h>

struct fcgi_conn;

#define WAFER_MAGIC "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A"

enum envelope {
    ENVELOPE_WAFER,  /* /login, /user, ...: errors carry MAGIC */
    ENVELOPE_WAFER2, /* /weapp/...: errors are {code:-1, ...} */
    ENVELOPE_ANY     /* no route matched: both markers, so either SDK sees an error */
};

/* The error body for `envelope`: {MAGIC:1, error, message} (wafer),
 * {code:-1, error, message} (wafer2) or both markers (any). New reference. */
json_t *reply_error_body(enum envelope envelope, const char *error, const char *message);

/* The reason phrase of an HTTP status ("Unauthorized"). */
const char *reply_status_text(int status);

/* Write "Status", Content-Type application/json; charset=utf-8,
 * Cache-Control: no-store, Content-Length, the extra header lines in
 * `extra_headers` (each ending "\r\n", or NULL) and the compact JSON of
 * body to the answer of the request open on out (sent when it finishes).
 * Steals the reference to body. */
void reply_send(struct fcgi_conn *out, int status, const char *extra_headers, json_t *body);

#endif
