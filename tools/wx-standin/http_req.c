/* http_req.c -- bounded HTTP/1.x request head parser. */
#include "http_req.h"
#include "http_token.h"
#include "text.h"

#include <string.h>
#include <strings.h>

/* Longest Content-Length accepted by the parser (the connection applies its
 * own, smaller limit and answers 413 above it). */
#define BODY_LEN_MAX 1000000000000ULL

long http_req_head_end(const char *buf, size_t len, size_t *scanned)
{
    size_t i = *scanned;
    while (i < len) {
        /* The line up to the next LF may hold a CR only right before it
         * (or as the last byte yet, when there is no LF). */
        const char *lf = memchr(buf + i, '\n', len - i);
        size_t stop = lf ? (size_t)(lf - buf) : len;
        const char *cr = memchr(buf + i, '\r', stop - i);
        if (cr && (size_t)(cr - buf) + 1 < stop)
            return -1;
        if (!lf) {
            i = len;
            break;
        }
        if (stop == 0 || buf[stop - 1] != '\r')
            return -1;
        if (stop >= 3 && memcmp(buf + stop - 3, "\r\n\r\n", 4) == 0)
            return (long)stop + 1;
        i = stop + 1;
    }
    *scanned = i > 0 && buf[i - 1] == '\r' ? i - 1 : i; /* look at a final CR again */
    return 0;
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The methods Node's HTTP parser accepts (http.METHODS); CONNECT, which
 * Node hands to a handler this server never had, is left out. */
static bool method_known(const char *m, size_t n)
{
    static const char *const methods[] = {
        "ACL",       "BIND",   "CHECKOUT", "COPY",   "DELETE",     "GET",        "HEAD",
        "LINK",      "LOCK",   "M-SEARCH", "MERGE",  "MKACTIVITY", "MKCALENDAR", "MKCOL",
        "MOVE",      "NOTIFY", "OPTIONS",  "PATCH",  "POST",       "PROPFIND",   "PROPPATCH",
        "PURGE",     "PUT",    "QUERY",    "REBIND", "REPORT",     "SEARCH",     "SOURCE",
        "SUBSCRIBE", "TRACE",  "UNBIND",   "UNLINK", "UNLOCK",     "UNSUBSCRIBE"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i]) == n && memcmp(methods[i], m, n) == 0)
            return true;
    return false;
}

static bool all_tchars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i]))
            return false;
    return n > 0;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The forms of request target a server meets: origin ("/..."), asterisk
 * ("*") and absolute ("scheme://..."), in printable ASCII. */
static bool target_ok(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return false;
    if (n == 0)
        return false;
    if (t[0] == '/' || (n == 1 && t[0] == '*'))
        return true;
    if (!is_alpha(t[0]))
        return false;
    size_t i = 1;
    while (i < n && (is_alpha(t[i]) || (t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' ||
                     t[i] == '.'))
        i++;
    return i + 3 <= n && memcmp(t + i, "://", 3) == 0;
}

/* Parse "METHOD SP target SP HTTP/x.y" (the versions Node's parser takes:
 * 0.9, 1.0, 1.1 and 2.0); *ka_default says whether the connection stays
 * open without a Connection header (minor version above 0, as llhttp has it). */
static bool parse_request_line(const char *p, size_t len, struct http_req *req, bool *ka_default)
{
    static const char *const versions[] = {"HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2.0"};
    const char *sp1 = memchr(p, ' ', len);
    if (!sp1 || !method_known(p, (size_t)(sp1 - p)))
        return false;
    const char *t = sp1 + 1, *end = p + len;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || end - sp2 - 1 != 8 || !target_ok(t, (size_t)(sp2 - t)))
        return false;
    size_t v = 0;
    while (v < 4 && memcmp(sp2 + 1, versions[v], 8) != 0)
        v++;
    if (v == 4)
        return false;
    req->method = p;
    req->method_len = (size_t)(sp1 - p);
    req->target = t;
    req->target_len = (size_t)(sp2 - t);
    req->http11 = v == 2;
    *ka_default = sp2[6] > '0' && sp2[8] > '0';
    return true;
}

/* Digits only, at most BODY_LEN_MAX. */
static bool parse_length(const char *v, size_t n, unsigned long long *out)
{
    unsigned long long x = 0;
    if (n == 0 || n > 13)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (unsigned long long)(v[i] - '0');
    }
    *out = x;
    return x <= BODY_LEN_MAX;
}

/* What one header means to us; flags collected over the whole head. */
struct head_flags {
    bool close, keep_alive, has_length, chunked, host;
};

static enum http_req_status note_header(const char *name, size_t nlen, const char *v, size_t vlen,
                                        struct http_req *req, struct head_flags *f)
{
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(name, h, nlen) == 0)
    if (IS("content-length")) {
        if (f->has_length || !parse_length(v, vlen, &req->body_len))
            return HTTP_REQ_BAD;
        f->has_length = true;
    } else if (IS("host")) {
        f->host = true;
    } else if (IS("transfer-encoding")) {
        f->chunked = true;
    } else if (IS("connection")) {
        f->close = f->close || http_has_token(v, vlen, "close");
        f->keep_alive = f->keep_alive || http_has_token(v, vlen, "keep-alive");
    } else if (IS("expect")) {
        if (vlen == 12 && strncasecmp(v, "100-continue", 12) == 0)
            req->expect_continue = true;
        else
            req->expect_unknown = true;
    }
#undef IS
    return HTTP_REQ_OK;
}

/* Split "Name: value" at the colon and trim the value; false if malformed. */
static bool split_header(const char *p, size_t len, size_t *nlen, const char **v, size_t *vlen)
{
    const char *colon = memchr(p, ':', len);
    if (!colon || !all_tchars(p, (size_t)(colon - p)))
        return false;
    const char *s = colon + 1, *end = p + len;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *c = s; c < end; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return false;
    *nlen = (size_t)(colon - p);
    *v = s;
    *vlen = (size_t)(end - s);
    return true;
}

/* The line starting at p (before end): its length without CRLF in *len,
 * and where the next line starts; NULL when it does not end in CRLF. */
static const char *next_line(const char *p, const char *end, size_t *len)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));
    if (!cr || cr + 1 >= end || cr[1] != '\n')
        return NULL;
    *len = (size_t)(cr - p);
    return cr + 2;
}

enum http_req_status http_req_parse(const char *buf, size_t len, struct http_req *req)
{
    memset(req, 0, sizeof(*req));
    if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
        return HTTP_REQ_BAD;
    const char *end = buf + len - 2, *p = buf, *next;
    size_t llen;
    bool ka_default = false;
    if (!(next = next_line(p, end + 2, &llen)) || !parse_request_line(p, llen, req, &ka_default))
        return HTTP_REQ_BAD;
    struct head_flags f = {0};
    for (p = next; p < end; p = next) {
        const char *v;
        size_t nlen, vlen;
        if (!(next = next_line(p, end + 2, &llen)) || !split_header(p, llen, &nlen, &v, &vlen))
            return HTTP_REQ_BAD;
        if (note_header(p, nlen, v, vlen, req, &f) != HTTP_REQ_OK)
            return HTTP_REQ_BAD;
    }
    if (req->http11 && !f.host)
        return HTTP_REQ_BAD; /* RFC 9112 3.2, and Node's requireHostHeader */
    if (f.chunked)
        return HTTP_REQ_UNSUPPORTED;
    req->keep_alive = ka_default ? !f.close : f.keep_alive && !f.close;
    if (!req->http11)
        req->expect_continue = req->expect_unknown = false;
    req->head = buf;
    req->head_len = len;
    return HTTP_REQ_OK;
}

bool http_req_header(const struct http_req *req, const char *name, bool join, struct buf *out)
{
    size_t want = strlen(name), llen;
    const char *end = req->head + req->head_len, *p = req->head, *next;
    bool found = false;
    buf_clear(out);
    if (!req->head || !(next = next_line(p, end, &llen)))
        return false;
    for (p = next; p < end - 2 && (next = next_line(p, end, &llen)); p = next) {
        const char *v;
        size_t nlen, vlen;
        if (!split_header(p, llen, &nlen, &v, &vlen) || nlen != want ||
            strncasecmp(p, name, nlen) != 0)
            continue;
        if (found)
            buf_put(out, ", ", 2);
        text_latin1_to_utf8(v, vlen, out);
        found = true;
        if (!join)
            break;
    }
    return found;
}

bool http_req_method_is(const struct http_req *req, const char *m)
{
    size_t n = strlen(m);
    return req->method_len == n && memcmp(req->method, m, n) == 0;
}
