/* text.c -- UTF-8 checks, latin1, first characters, percent-encoding and
 * decimal integers. */
#include "text.h"

#include <errno.h>
#include <stdlib.h>

/* Length of the valid UTF-8 sequence at s[0..len), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0; /* overlong */
    else if (s[0] == 0xED)
        hi = 0x9F; /* surrogates */
    else if (s[0] == 0xF0)
        lo = 0x90; /* overlong */
    else if (s[0] == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

bool text_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq_len(u + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

void text_latin1_to_utf8(const char *in, size_t len, struct buf *out)
{
    buf_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80) {
            buf_putc(out, (char)c);
        } else {
            char two[2] = {(char)(0xC0 | c >> 6), (char)(0x80 | (c & 0x3F))};
            buf_put(out, two, 2);
        }
    }
}

size_t text_first_char_len(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    size_t n = 1;
    while (n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
        n++;
    return n;
}

void text_percent_encode(const char *s, size_t len, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        if (keep) {
            buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_put(out, esc, 3);
        }
    }
}

int text_to_long(const char *s, long *out)
{
    char *end;
    size_t start = s[0] == '-' || s[0] == '+' ? 1 : 0;
    if (s[start] < '0' || s[start] > '9')
        return -1; /* strtol would skip blanks */
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return -1;
    *out = v;
    return 0;
}
