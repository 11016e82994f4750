/* handshake.h -- deciding the answer to a request head (RFC 6455 4.2):
 * WebSocket upgrade, /healthz, or an HTTP error; and the
 * Sec-WebSocket-Accept value. Pure. */
#ifndef RELAY_HANDSHAKE_H
#define RELAY_HANDSHAKE_H

#include "http_head.h"

#include <stddef.h>

#define HANDSHAKE_ACCEPT_LEN 28

enum handshake_verdict {
    HS_UPGRADE,       /* answer 101 and speak WebSocket */
    HS_HEALTHZ,       /* plain GET /healthz */
    HS_BAD_REQUEST,   /* 400 */
    HS_BAD_VERSION,   /* 426 with Sec-WebSocket-Version: 13 */
    HS_NOT_FOUND,     /* 404: a plain GET of anything else */
    HS_BAD_METHOD     /* 405 */
};

/* Classify a parsed request. */
enum handshake_verdict handshake_classify(const struct http_request *req);

/* Sec-WebSocket-Accept for a client key: base64(sha1(key + GUID)), written
 * NUL-terminated to out[HANDSHAKE_ACCEPT_LEN + 1]. Returns 0, or -1 when the
 * key is not base64 of 16 bytes or OpenSSL fails. */
int handshake_accept_key(const char *key, char *out);

/* Write the 101 answer for `accept` into out[cap]; returns its length or
 * 0 when it does not fit. */
size_t handshake_response_101(const char *accept, char *out, size_t cap);

/* Write a complete HTTP/1.1 answer with `status` ("400 Bad Request"), a
 * JSON body and Connection: close into out[cap]; `extra` is "" or header
 * lines ending in CRLF. Returns its length, 0 when it does not fit. */
size_t handshake_response_http(const char *status, const char *extra, const char *json_body,
                               char *out, size_t cap);

#endif
