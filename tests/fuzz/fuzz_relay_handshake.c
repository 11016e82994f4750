/* fuzz_relay_handshake.c -- libFuzzer target for the relay's request head
 * parser and handshake decisions (http_head.h, handshake.h).
 *
 * The input is the bytes a client sends before the WebSocket starts. It is
 * searched for the end of the head in one go and, in a second pass, fed in
 * chunks (sizes derived from the first bytes) the way conn.c reads it; both
 * must find the same end. The head is parsed twice (same result), the
 * fields checked against the parser's contract, the request classified and
 * the answer built the way server.c does, and the 101 answer's accept key
 * recomputed. */
#include "fuzz_common.h"
#include "handshake.h"
#include "http_head.h"
#include "msg.h"
#include "query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The end of the head found by feeding chunks, as conn_read_head() does. */
static size_t head_end_chunked(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    size_t len = 0, end = 0;
    for (size_t k = 0; len < size && !end; k++) {
        size_t n = fuzz_chunk(data, size, k, 64);
        if (n > size - len)
            n = size - len;
        size_t before = len;
        memcpy(buf + len, data + len, n);
        len += n;
        end = http_head_end(buf, len, before);
    }
    free(buf);
    return end;
}

/* The first "\r\n\r\n" by a plain search, or 0. */
static size_t head_end_reference(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

/* A field of the parsed request: NUL-terminated inside its array. */
static void check_field(const char *field, size_t cap)
{
    FUZZ_CHECK(memchr(field, '\0', cap) != NULL);
}

static void check_request(const struct http_request *req)
{
    check_field(req->method, sizeof(req->method));
    check_field(req->path, sizeof(req->path));
    check_field(req->query, sizeof(req->query));
    check_field(req->ws_key, sizeof(req->ws_key));
    check_field(req->ws_version, sizeof(req->ws_version));
    check_field(req->wx_id, sizeof(req->wx_id));
    check_field(req->wx_skey, sizeof(req->wx_skey));
    check_field(req->real_ip, sizeof(req->real_ip));
    FUZZ_CHECK(req->method[0] != '\0' && !strchr(req->method, ' '));
    FUZZ_CHECK(req->path[0] == '/' && !strchr(req->path, '?') && !strchr(req->path, '#'));
    FUZZ_CHECK(!strchr(req->path, ' ') && !strchr(req->query, '#') && !strchr(req->query, ' '));
    /* what the relay logs or compares has no line breaks or other controls */
    const char *logged[] = {req->method, req->path,    req->query,   req->wx_id,
                            req->wx_skey, req->real_ip, req->ws_key, req->ws_version};
    for (size_t i = 0; i < sizeof(logged) / sizeof(logged[0]); i++)
        for (const unsigned char *c = (const unsigned char *)logged[i]; *c; c++)
            FUZZ_CHECK((*c >= 0x20 && *c != 0x7f) || *c == '\t');
}

/* What server.c reads from the query: room, since, credentials. */
static void check_query(const char *query)
{
    static const char *const names[] = {"room", "since", "epoch", "X-WX-Id", "X-WX-Skey"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char value[65];
        long n = query_get(query, names[i], value, sizeof(value));
        FUZZ_CHECK(n >= QUERY_MALFORMED && n < (long)sizeof(value));
        if (n >= 0) {
            FUZZ_CHECK(strlen(value) == (size_t)n);
            if (i == 0 && msg_room_valid(value))
                FUZZ_CHECK(n >= 1 && n <= 64 && strspn(value, "abcdefghijklmnopqrstuvwxyz"
                                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789_-") == (size_t)n);
        }
    }
}

/* The answer server.c would send for a verdict. */
static void check_answer(const struct http_request *req, enum handshake_verdict v)
{
    char out[1024];
    if (v == HS_UPGRADE) {
        FUZZ_CHECK(strcmp(req->method, "GET") == 0 && req->upgrade_websocket &&
                   req->connection_upgrade && strcmp(req->ws_version, "13") == 0);
        char accept[HANDSHAKE_ACCEPT_LEN + 1];
        FUZZ_CHECK(strlen(req->ws_key) == 24);
        FUZZ_CHECK(handshake_accept_key(req->ws_key, accept) == 0);
        FUZZ_CHECK(strlen(accept) == HANDSHAKE_ACCEPT_LEN);
        size_t n = handshake_response_101(accept, out, sizeof(out));
        FUZZ_CHECK(n > 0 && n == strlen(out) && strstr(out, accept) != NULL);
        FUZZ_CHECK(http_head_end(out, n, 0) == n); /* exactly one head, nothing after */
        return;
    }
    if (v == HS_HEALTHZ)
        FUZZ_CHECK(strcmp(req->path, "/healthz") == 0 && !req->upgrade_websocket);
    if (v == HS_BAD_METHOD)
        FUZZ_CHECK(strcmp(req->method, "GET") != 0);
    const char *extra = v == HS_BAD_VERSION ? "Sec-WebSocket-Version: 13\r\n" : "";
    size_t n = handshake_response_http("400 Bad Request", extra,
                                       "{\"ok\":false,\"error\":\"bad request\"}", out,
                                       sizeof(out));
    FUZZ_CHECK(n > 0 && n == strlen(out));
    size_t head = http_head_end(out, n, 0);
    FUZZ_CHECK(head > 0 && n - head == strlen("{\"ok\":false,\"error\":\"bad request\"}"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t end = http_head_end((const char *)data, size, 0);
    FUZZ_CHECK(end == head_end_reference(data, size));
    FUZZ_CHECK(end == head_end_chunked(data, size));
    if (!end)
        return 0;
    /* the parser gets exactly the head, in a buffer of its own size */
    char *head = malloc(end);
    memcpy(head, data, end);
    struct http_request *req = malloc(sizeof(*req)), *again = malloc(sizeof(*again));
    enum http_head_status st = http_head_parse(head, end, req);
    FUZZ_CHECK(st == HTTP_HEAD_OK || st == HTTP_HEAD_BAD);
    FUZZ_CHECK(http_head_parse(head, end, again) == st);
    if (st == HTTP_HEAD_OK) {
        FUZZ_CHECK(memcmp(req, again, sizeof(*req)) == 0);
        check_request(req);
        check_query(req->query);
        enum handshake_verdict v = handshake_classify(req);
        FUZZ_CHECK(v >= HS_UPGRADE && v <= HS_BAD_METHOD);
        check_answer(req, v);
    }
    free(again);
    free(req);
    free(head);
    return 0;
}
