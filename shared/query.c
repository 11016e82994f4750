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

bool query_next(const char **p, const char *end, struct query_pair *pair)
{
    if (*p >= end)
        return false;
    const char *amp = memchr(*p, '&', (size_t)(end - *p));
    size_t pair_len = amp ? (size_t)(amp - *p) : (size_t)(end - *p);
    const char *eq = memchr(*p, '=', pair_len);
    pair->key = *p;
    pair->key_len = eq ? (size_t)(eq - *p) : pair_len;
    pair->value = eq ? eq + 1 : "";
    pair->value_len = eq ? pair_len - pair->key_len - 1 : 0;
    *p += pair_len + (amp ? 1 : 0);
    return true;
}

long query_get(const char *query, const char *name, char *out, size_t cap)
{
    char key[128];
    const char *p = query ? query : "", *end = p + strlen(p);
    struct query_pair pair;
    while (query_next(&p, end, &pair)) {
        long k = query_decode(pair.key, pair.key_len, key, sizeof(key));
        if (k >= 0 && strcasecmp(key, name) == 0)
            return query_decode(pair.value, pair.value_len, out, cap);
    }
    return QUERY_NOT_FOUND;
}
