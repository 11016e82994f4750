/* url.c -- request-target pathnames and query parameters, as the WHATWG
 * URL parser and URLSearchParams produce them for an http: base URL. */
#include "url.h"
#include "text.h"

#include <string.h>
#include <strings.h>

static const char hex_upper[] = "0123456789ABCDEF";

static bool is_slash(char c)
{
    return c == '/' || c == '\\';
}

/* true when s[0..n) is a scheme followed by "://" ("http://", "ws://"...);
 * *skip is then the offset just past the ':'. */
static bool has_scheme(const char *s, size_t n, size_t *skip)
{
    size_t i = 0;
    if (n == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return false;
    while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i + 3 > n || memcmp(s + i, "://", 3) != 0)
        return false;
    *skip = i + 1;
    return true;
}

/* Offset of the path in s[0..n) after skipping slashes and an authority
 * (everything up to the next '/' or '\'). */
static size_t skip_authority(const char *s, size_t n, size_t i)
{
    while (i < n && is_slash(s[i]))
        i++;
    while (i < n && !is_slash(s[i]))
        i++;
    return i;
}

/* "." or "%2e" (any case). */
static bool is_single_dot(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 3 && strncasecmp(s, "%2e", 3) == 0);
}

/* "..", ".%2e", "%2e." or "%2e%2e" (any case). */
static bool is_double_dot(const char *s, size_t n)
{
    if (n == 2)
        return s[0] == '.' && s[1] == '.';
    if (n == 4)
        return (s[0] == '.' && strncasecmp(s + 1, "%2e", 3) == 0) ||
               (s[3] == '.' && strncasecmp(s, "%2e", 3) == 0);
    return n == 6 && strncasecmp(s, "%2e%2e", 6) == 0;
}

/* Append one byte of a path segment, escaped when the URL path
 * percent-encode set holds it. */
static void put_path_byte(struct buf *out, unsigned char c)
{
    if (c <= 0x20 || c >= 0x7F || strchr("\"#<>?`{}", c)) {
        char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
        buf_put(out, esc, 3);
    } else {
        buf_putc(out, (char)c);
    }
}

/* Append "/" and segment s[0..n) (its raw bytes >= 0x80 read as latin1). */
static void put_segment(struct buf *out, const char *s, size_t n)
{
    buf_putc(out, '/');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            put_path_byte(out, (unsigned char)(0xC0 | c >> 6));
            put_path_byte(out, (unsigned char)(0x80 | (c & 0x3F)));
        } else {
            put_path_byte(out, c);
        }
    }
}

/* Remove the last segment of the pathname built so far in out[start..). */
static void drop_segment(struct buf *out, size_t start)
{
    size_t i = out->len;
    while (i > start && out->p[i - 1] != '/')
        i--;
    if (i > start)
        out->len = i - 1;
    out->p[out->len] = '\0';
}

/* Append the pathname of path s[0..n) (which starts after the authority). */
static void normalize_path(const char *s, size_t n, struct buf *out)
{
    size_t start = out->len, i = 0;
    if (i < n && is_slash(s[i]))
        i++;
    for (;;) {
        size_t seg = i;
        while (i < n && !is_slash(s[i]))
            i++;
        bool last = i >= n;
        size_t slen = i - seg;
        if (is_double_dot(s + seg, slen)) {
            if (out->len > start)
                drop_segment(out, start);
            if (last)
                buf_putc(out, '/');
        } else if (is_single_dot(s + seg, slen)) {
            if (last)
                buf_putc(out, '/');
        } else {
            put_segment(out, s + seg, slen);
        }
        if (last)
            break;
        i++;
    }
    if (out->len == start)
        buf_putc(out, '/');
}

void url_split_target(const char *target, size_t len, struct buf *path, const char **query,
                      size_t *query_len)
{
    const char *hash = memchr(target, '#', len);
    if (hash)
        len = (size_t)(hash - target);
    const char *q = memchr(target, '?', len);
    size_t plen = q ? (size_t)(q - target) : len;
    *query = q ? q + 1 : target + len;
    *query_len = q ? len - plen - 1 : 0;
    size_t skip = 0, start = 0;
    if (plen >= 2 && is_slash(target[0]) && is_slash(target[1]))
        start = skip_authority(target, plen, 0);
    else if (has_scheme(target, plen, &skip))
        start = skip_authority(target, plen, skip);
    normalize_path(target + start, plen - start, path);
}

/* true when s[0..n) decodes to itself (no '+', '%' or byte >= 0x80). */
static bool plain_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '+' || s[i] == '%' || (unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

/* Decode one name or value of application/x-www-form-urlencoded text into
 * out (cleared first): '+' to space, valid %XX to a byte, raw bytes >= 0x80
 * as latin1, then UTF-8 decoding with replacement characters. */
static void form_decode(const char *s, size_t n, struct buf *bytes, struct buf *out)
{
    buf_clear(bytes);
    buf_clear(out);
    if (plain_text(s, n)) { /* the common case: ASCII that decodes to itself */
        buf_put(out, s, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi, lo;
        if (c == '+') {
            buf_putc(bytes, ' ');
        } else if (c == '%' && i + 2 < n && (hi = text_hex_value(s[i + 1])) >= 0 &&
                   (lo = text_hex_value(s[i + 2])) >= 0) {
            buf_putc(bytes, (char)(hi << 4 | lo));
            i += 2;
        } else if (c >= 0x80) {
            text_latin1_to_utf8(s + i, 1, bytes);
        } else {
            buf_putc(bytes, (char)c);
        }
    }
    text_utf8_decode(bytes->p ? bytes->p : "", bytes->len, out);
}

bool url_param_get(const char *query, size_t query_len, const char *name, struct buf *out)
{
    struct buf bytes = BUF_INIT, key = BUF_INIT;
    size_t name_len = strlen(name), i = 0;
    bool found = false;
    buf_clear(out);
    while (i < query_len && !found) {
        const char *pair = query + i;
        const char *amp = memchr(pair, '&', query_len - i);
        size_t plen = amp ? (size_t)(amp - pair) : query_len - i;
        i += plen + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        const char *k = pair;
        if (!plain_text(pair, klen)) {
            form_decode(pair, klen, &bytes, &key);
            k = buf_str(&key);
            klen = key.len;
        }
        if (klen != name_len || memcmp(k, name, name_len) != 0)
            continue;
        found = true;
        if (eq)
            form_decode(eq + 1, plen - (size_t)(eq - pair) - 1, &bytes, out);
    }
    buf_free(&bytes);
    buf_free(&key);
    return found;
}
