/* httpresp.h -- a small, bounded HTTP/1.1 response parser for the load
 * generator's own client (the /login and stand-in requests and the
 * WebSocket upgrade answer). Pure functions over a caller's buffer: the
 * caller appends received bytes and calls again until a result is complete. */
#ifndef BENCH_HTTPRESP_H
#define BENCH_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>

/* What the head of a response says. */
struct http_head {
    int status;               /* e.g. 200, 101 */
    size_t head_len;          /* bytes up to and including the blank line */
    long long content_length; /* -1 when absent */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool close;               /* Connection: close */
};

/* Parse the status line and headers at the start of buf[0..len). Returns 1
 * and fills *h when the head is complete, 0 when more bytes are needed, -1
 * when it is malformed or longer than 16 KiB. */
int http_head_parse(const char *buf, size_t len, struct http_head *h);

/* Find header `name` (case-insensitive) in a complete head; on success
 * *value points into buf (borrowed, not NUL-terminated), *vlen is its length
 * without surrounding blanks, and 1 is returned; 0 when absent. */
int http_head_find(const char *buf, const struct http_head *h, const char *name, const char **value,
                   size_t *vlen);

/* With a complete head *h in buf[0..len), decide whether the body is
 * complete. Returns 1 and sets *consumed (bytes of this response, head
 * included) and copies the body (de-chunked) into out[0..*out_len) with a
 * NUL after it; 0 when more bytes are needed; -1 when the chunked encoding
 * is malformed, the body needs more than out_cap - 1 bytes, or the response
 * has neither a length nor chunked encoding (unsupported here). */
int http_body_parse(const char *buf, size_t len, const struct http_head *h, char *out,
                    size_t out_cap, size_t *out_len, size_t *consumed);

#endif
