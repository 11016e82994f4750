/* http_req.h -- a bounded parser of HTTP/1.0 and HTTP/1.1 request heads
 * (request line and header fields) for the stand-in's own server. Pure: no
 * I/O and no allocation; every field is a slice borrowed from the caller's
 * buffer, which must outlive the struct. Untrusted input. */
#ifndef STANDIN_HTTP_REQ_H
#define STANDIN_HTTP_REQ_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest head accepted, request line included (Node's default limit). */
#define HTTP_REQ_HEAD_MAX 16384

struct http_req {
    const char *method; /* e.g. "GET", method_len bytes, not NUL-terminated */
    size_t method_len;
    const char *target; /* the request target as sent */
    size_t target_len;
    bool http11;                 /* HTTP/1.1 (else 0.9, 1.0 or 2.0 in this syntax) */
    bool keep_alive;             /* the connection may carry another request */
    bool expect_continue;        /* HTTP/1.1 with "Expect: 100-continue" */
    bool expect_unknown;         /* HTTP/1.1 with another Expect value */
    unsigned long long body_len; /* Content-Length, 0 when absent */
    const char *head;            /* the whole head, for http_req_header() */
    size_t head_len;
};

enum http_req_status {
    HTTP_REQ_OK = 0,
    HTTP_REQ_BAD = -1,        /* malformed request line or header: 400 */
    HTTP_REQ_UNSUPPORTED = -2 /* Transfer-Encoding (chunked bodies): 400 */
};

/* Offset just past the blank line ("\r\n\r\n") that ends the head in
 * buf[0..len); 0 when it is not there yet; -1 when a line break is not
 * CRLF (a bare LF or CR: the head can never be valid). *scanned is how far
 * earlier calls searched: start it at 0, keep it between calls for the
 * same head (it is advanced when 0 is returned). */
long http_req_head_end(const char *buf, size_t len, size_t *scanned);

/* Parse the head buf[0..len) (len as returned by http_req_head_end) into
 * req, accepting what Node's parser accepts: the request line is METHOD SP
 * target SP HTTP/x.y with a method Node knows (GET, POST, HEAD...), the
 * target "/...", "*" or "scheme://..." in printable ASCII; header names
 * are tokens and values hold no control characters but tab; lines end in
 * CRLF; HTTP/1.1 needs a Host header; folded lines, a repeated or
 * non-numeric Content-Length are refused. Returns HTTP_REQ_OK,
 * HTTP_REQ_BAD or HTTP_REQ_UNSUPPORTED. */
enum http_req_status http_req_parse(const char *buf, size_t len, struct http_req *req);

/* The value of header `name` (case-insensitive) with surrounding blanks
 * trimmed, read as latin1 and appended to out (cleared first) as UTF-8, the
 * way Node's req.headers has it: the first one only, or with `join` every
 * one joined by ", ". Returns false (out empty) when there is none. */
bool http_req_header(const struct http_req *req, const char *name, bool join, struct buf *out);

/* true when the method is exactly m. */
bool http_req_method_is(const struct http_req *req, const char *m);

#endif
