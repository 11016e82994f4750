/* http_head.h -- a bounded parser of HTTP/1.1 request heads (request line
 * and headers), as received for a WebSocket upgrade or a plain GET.
 * Pure: no allocation, no I/O; untrusted input. */
#ifndef RELAY_HTTP_HEAD_H
#define RELAY_HTTP_HEAD_H

#include "http_token.h"

#include <stdbool.h>
#include <stddef.h>

#define HTTP_PATH_MAX 256
#define HTTP_QUERY_MAX 4096
#define HTTP_VALUE_MAX 256

struct http_request {
    char method[16];
    char path[HTTP_PATH_MAX];   /* target before '?' */
    char query[HTTP_QUERY_MAX]; /* after '?', without '#...'; "" when none */
    bool upgrade_websocket;     /* Upgrade: websocket */
    bool connection_upgrade;    /* Connection: ... upgrade ... */
    bool has_key, has_version;
    char ws_key[HTTP_VALUE_MAX];
    char ws_version[16];
    char wx_id[HTTP_VALUE_MAX];   /* X-WX-Id header, "" when absent */
    char wx_skey[HTTP_VALUE_MAX]; /* X-WX-Skey header, "" when absent */
    char real_ip[64];             /* X-Real-IP header (nginx), "" when absent */
};

enum http_head_status {
    HTTP_HEAD_OK = 0,
    HTTP_HEAD_INCOMPLETE = 1, /* no blank line yet: read more */
    HTTP_HEAD_BAD = -1        /* malformed or a field too long: answer 400 */
};

/* Offset just past the "\r\n\r\n" ending the head in buf[0..len), or 0
 * when it is not there yet. `from` is how many bytes were already searched
 * by an earlier call (the search restarts a little before it). */
size_t http_head_end(const char *buf, size_t len, size_t from);

/* Parse the head in buf[0..len) (len as returned by http_head_end) into
 * req. Returns HTTP_HEAD_OK or HTTP_HEAD_BAD. */
enum http_head_status http_head_parse(const char *buf, size_t len, struct http_request *req);


#endif
