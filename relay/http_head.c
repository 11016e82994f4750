/* http_head.c -- bounded HTTP/1.1 request head parser. */
#include "http_head.h"

#include <string.h>
#include <strings.h>

size_t http_head_end(const char *buf, size_t len, size_t from)
{
    size_t i = from > 3 ? from - 3 : 0;
    for (; i + 4 <= len; i++)
        if (buf[i] == '\r' && memcmp(buf + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    return 0;
}

/* Copy len bytes into out[cap] with a NUL; false when they do not fit. */
static bool copy_field(char *out, size_t cap, const char *p, size_t len)
{
    if (len >= cap)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* Parse "METHOD target HTTP/1.x". */
static bool parse_request_line(const char *p, size_t len, struct http_request *req)
{
    for (size_t i = 0; i < len; i++) /* no control characters (RFC 7230 3.1.1) */
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return false;
    const char *sp1 = memchr(p, ' ', len);
    if (!sp1 || !copy_field(req->method, sizeof(req->method), p, (size_t)(sp1 - p)) ||
        sp1 == p)
        return false;
    const char *t = sp1 + 1, *end = p + len;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t || (size_t)(end - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return false;
    size_t tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
            return false;
    const char *hash = memchr(t, '#', tlen);
    if (hash)
        tlen = (size_t)(hash - t);
    const char *q = memchr(t, '?', tlen);
    size_t plen = q ? (size_t)(q - t) : tlen;
    if (plen == 0 || t[0] != '/' || !copy_field(req->path, sizeof(req->path), t, plen))
        return false;
    if (q)
        return copy_field(req->query, sizeof(req->query), q + 1, tlen - plen - 1);
    req->query[0] = '\0';
    return true;
}

/* Record one header "Name: value" (value already trimmed). */
static bool parse_header(const char *name, size_t nlen, const char *v, size_t vlen,
                         struct http_request *req)
{
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(name, h, nlen) == 0)
    if (IS("upgrade"))
        req->upgrade_websocket = req->upgrade_websocket || http_has_token(v, vlen, "websocket");
    else if (IS("connection"))
        req->connection_upgrade = req->connection_upgrade || http_has_token(v, vlen, "upgrade");
    else if (IS("sec-websocket-key"))
        return (req->has_key = true) && copy_field(req->ws_key, sizeof(req->ws_key), v, vlen);
    else if (IS("sec-websocket-version"))
        return (req->has_version = true) &&
               copy_field(req->ws_version, sizeof(req->ws_version), v, vlen);
    else if (IS("x-wx-id"))
        return copy_field(req->wx_id, sizeof(req->wx_id), v, vlen);
    else if (IS("x-wx-skey"))
        return copy_field(req->wx_skey, sizeof(req->wx_skey), v, vlen);
    else if (IS("x-real-ip"))
        return copy_field(req->real_ip, sizeof(req->real_ip), v, vlen);
#undef IS
    return true;
}

/* Split one header line at ':' and trim the value. */
static bool parse_header_line(const char *p, size_t len, struct http_request *req)
{
    const char *colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return false;
    for (const char *c = p; c < colon; c++)
        if (*c == ' ' || *c == '\t' || (unsigned char)*c < 0x21 || *c == 0x7f)
            return false;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *c = v; c < end; c++) /* VCHAR, obs-text, SP, HTAB (RFC 7230 3.2) */
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return false;
    return parse_header(p, (size_t)(colon - p), v, (size_t)(end - v), req);
}

enum http_head_status http_head_parse(const char *buf, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
        return HTTP_HEAD_BAD;
    const char *p = buf, *end = buf + len - 2; /* keep the last line's CRLF */
    bool first = true;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol + 1 >= end + 2 || eol[1] != '\n')
            return HTTP_HEAD_BAD;
        size_t llen = (size_t)(eol - p);
        if (first ? !parse_request_line(p, llen, req) : !parse_header_line(p, llen, req))
            return HTTP_HEAD_BAD;
        first = false;
        p = eol + 2;
    }
    return first ? HTTP_HEAD_BAD : HTTP_HEAD_OK;
}
