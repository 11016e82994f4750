/* query.c -- percent-decoding and parameter look-up in query strings. */
#include "query.h"

#include <string.h>
#include <strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long query_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return QUERY_MALFORMED;
            int hi = hex_value(in[i + 1]);
            int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return QUERY_MALFORMED;
            c = hi << 4 | lo;
            i += 2;
        }
        if (c == 0)
            return QUERY_MALFORMED;
        if (o + 1 >= cap)
            return QUERY_TOO_LONG;
        out[o++] = (char)c;
    }
    if (cap == 0)
        return QUERY_TOO_LONG;
    out[o] = '\0';
    return (long)o;
}

long query_get(const char *query, const char *name, char *out, size_t cap)
{
    char key[128];
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t pair_len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - p) : pair_len;
        long k = query_decode(p, key_len, key, sizeof(key));
        if (k >= 0 && strcasecmp(key, name) == 0) {
            if (!eq)
                return query_decode("", 0, out, cap);
            return query_decode(eq + 1, pair_len - key_len - 1, out, cap);
        }
        p += pair_len + (end ? 1 : 0);
    }
    return QUERY_NOT_FOUND;
}
