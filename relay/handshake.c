/* handshake.c -- WebSocket upgrade decisions and answers. */
#include "handshake.h"
#include "crypto.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum handshake_verdict handshake_classify(const struct http_request *req)
{
    if (strcmp(req->method, "GET") != 0)
        return HS_BAD_METHOD;
    if (!req->upgrade_websocket) {
        if (strcmp(req->path, "/healthz") == 0)
            return HS_HEALTHZ;
        return HS_NOT_FOUND;
    }
    if (!req->connection_upgrade || !req->has_key)
        return HS_BAD_REQUEST;
    if (!req->has_version)
        return HS_BAD_REQUEST;
    if (strcmp(req->ws_version, "13") != 0)
        return HS_BAD_VERSION;
    char accept[HANDSHAKE_ACCEPT_LEN + 1];
    if (handshake_accept_key(req->ws_key, accept) < 0)
        return HS_BAD_REQUEST;
    return HS_UPGRADE;
}

int handshake_accept_key(const char *key, char *out)
{
    size_t klen = strlen(key), n;
    unsigned char raw[BASE64_DECODED_MAX(24)];
    if (klen != 24 || base64_decode(key, klen, raw, sizeof(raw), &n) < 0 || n != 16)
        return -1;
    char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char digest[SHA_DIGEST_LENGTH];
    if (!SHA1((const unsigned char *)buf, 24 + sizeof(WS_GUID) - 1, digest))
        return -1;
    base64_encode(digest, sizeof(digest), out);
    return 0;
}

size_t handshake_response_101(const char *accept, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t handshake_response_http(const char *status, const char *extra, const char *json_body,
                               char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "HTTP/1.1 %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n"
                     "%s\r\n%s",
                     status, strlen(json_body), extra, json_body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
