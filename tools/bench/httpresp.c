/* httpresp.c -- bounded HTTP/1.1 response head and body parsing. */
#include "httpresp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_HEAD_MAX 16384

/* True when buf[0..n) equals the lower-case `lit` ignoring case. */
static bool token_is(const char *buf, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(buf, lit, n) == 0;
}

/* Parse a decimal number of at most 18 digits; -1 when not one. */
static long long parse_decimal(const char *s, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Interpret one "Name: value" line of length n. */
static void head_line(const char *line, size_t n, struct http_head *h)
{
    const char *colon = memchr(line, ':', n);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (token_is(line, nlen, "content-length"))
        h->content_length = parse_decimal(v, vlen);
    else if (token_is(line, nlen, "transfer-encoding"))
        h->chunked = token_is(v, vlen, "chunked");
    else if (token_is(line, nlen, "connection"))
        h->close = token_is(v, vlen, "close");
}

int http_head_parse(const char *buf, size_t len, struct http_head *h)
{
    size_t scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
    const char *end = memmem(buf, scan, "\r\n\r\n", 4);
    if (!end)
        return len >= HTTP_HEAD_MAX ? -1 : 0;
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    h->head_len = (size_t)(end - buf) + 4;
    if (h->head_len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    long long status = parse_decimal(buf + 9, 3);
    if (status < 100)
        return -1;
    h->status = (int)status;
    const char *p = memchr(buf, '\n', h->head_len) + 1;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        head_line(p, (size_t)(eol - p), h);
        p = eol + 2;
    }
    return 1;
}

int http_head_find(const char *buf, const struct http_head *h, const char *name, const char **value,
                   size_t *vlen)
{
    const char *p = memchr(buf, '\n', h->head_len) + 1, *end = buf + h->head_len - 2;
    size_t nlen = strlen(name);
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && token_is(p, (size_t)(colon - p), name) && (size_t)(colon - p) == nlen) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *value = v;
            *vlen = (size_t)(ve - v);
            return 1;
        }
        p = eol + 2;
    }
    return 0;
}

/* Parse the hex chunk size line at p (up to end); sets *size and *line_len
 * (including CRLF). Returns 1, 0 need more, -1 malformed. */
static int chunk_size_line(const char *p, const char *end, size_t *size, size_t *line_len)
{
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
        return (end - p) > 64 ? -1 : 0;
    size_t v = 0, digits = 0;
    for (const char *q = p; q < eol && *q != ';'; q++, digits++) {
        int c = tolower((unsigned char)*q);
        int d = isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0 || digits >= 8)
            return -1;
        v = v * 16 + (size_t)d;
    }
    if (digits == 0)
        return -1;
    *size = v;
    *line_len = (size_t)(eol - p) + 2;
    return 1;
}

/* De-chunk the body starting at p. Same results as http_body_parse. */
static int body_chunked(const char *buf, const char *p, const char *end, char *out, size_t out_cap,
                        size_t *out_len, size_t *consumed)
{
    size_t n = 0;
    for (;;) {
        size_t size, line;
        int rc = chunk_size_line(p, end, &size, &line);
        if (rc <= 0)
            return rc;
        p += line;
        if (size == 0) {
            if (end - p < 2)
                return 0;
            if (p[0] != '\r' || p[1] != '\n')
                return -1; /* trailers are not supported */
            out[n] = '\0';
            *out_len = n;
            *consumed = (size_t)(p + 2 - buf);
            return 1;
        }
        if (size >= out_cap - n)
            return -1;
        if ((size_t)(end - p) < size + 2)
            return 0;
        memcpy(out + n, p, size);
        n += size;
        p += size;
        if (p[0] != '\r' || p[1] != '\n')
            return -1;
        p += 2;
    }
}

int http_body_parse(const char *buf, size_t len, const struct http_head *h, char *out,
                    size_t out_cap, size_t *out_len, size_t *consumed)
{
    if (out_cap == 0 || len < h->head_len)
        return -1;
    const char *p = buf + h->head_len, *end = buf + len;
    if (h->chunked)
        return body_chunked(buf, p, end, out, out_cap, out_len, consumed);
    if (h->content_length < 0) {
        if (h->status == 101 || h->status == 204 || h->status == 304)
            goto empty;
        return -1;
    }
    size_t cl = (size_t)h->content_length;
    if (cl >= out_cap)
        return -1;
    if ((size_t)(end - p) < cl)
        return 0;
    memcpy(out, p, cl);
    out[cl] = '\0';
    *out_len = cl;
    *consumed = h->head_len + cl;
    return 1;
empty:
    out[0] = '\0';
    *out_len = 0;
    *consumed = h->head_len;
    return 1;
}
