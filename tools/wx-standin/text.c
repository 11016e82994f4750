/* text.c -- UTF-8 decoding, latin1, UTF-16 lengths and URI components,
 * byte for byte as Node does them. */
#include "text.h"

#include <string.h>

static const char hex_upper[] = "0123456789ABCDEF";

int text_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Append code point cp (valid, not a surrogate) as UTF-8. */
static void put_utf8(struct buf *out, unsigned cp)
{
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xC0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12);
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (char)(0xF0 | cp >> 18);
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_put(out, s, n);
}

/* For a lead byte: how many continuation bytes follow and the allowed range
 * of the first one (WHATWG UTF-8 decoder); 0 needed means invalid. */
static int utf8_lead(unsigned char b, unsigned *cp, unsigned char *lower, unsigned char *upper)
{
    *lower = 0x80;
    *upper = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        *cp = b & 0x1F;
        return 1;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
            *lower = 0xA0;
        if (b == 0xED)
            *upper = 0x9F;
        *cp = b & 0x0F;
        return 2;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
            *lower = 0x90;
        if (b == 0xF4)
            *upper = 0x8F;
        *cp = b & 0x07;
        return 3;
    }
    return 0;
}

void text_utf8_decode(const char *in, size_t len, struct buf *out)
{
    size_t i = 0;
    buf_reserve(out, len);
    while (i < len) {
        unsigned char b = (unsigned char)in[i];
        if (b < 0x80) {
            buf_putc(out, (char)b);
            i++;
            continue;
        }
        unsigned cp = 0;
        unsigned char lower, upper;
        int need = utf8_lead(b, &cp, &lower, &upper);
        size_t j = i + 1;
        int seen = 0;
        while (need && seen < need && j < len) {
            unsigned char c = (unsigned char)in[j];
            if (c < lower || c > upper)
                break;
            cp = cp << 6 | (c & 0x3F);
            lower = 0x80;
            upper = 0xBF;
            seen++;
            j++;
        }
        if (need && seen == need) {
            put_utf8(out, cp);
        } else {
            buf_put(out, "\xEF\xBF\xBD", 3); /* U+FFFD; the offending byte is read again */
        }
        i = j;
    }
}

void text_latin1_to_utf8(const char *in, size_t len, struct buf *out)
{
    buf_reserve(out, len);
    for (size_t i = 0; i < len; i++)
        put_utf8(out, (unsigned char)in[i]);
}

size_t text_utf16_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80)
            n += b >= 0xF0 ? 2 : 1;
    }
    return n;
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

void text_uri_encode_component(const char *s, size_t len, struct buf *out)
{
    static const char keep[] = "-_.!~*'()";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum || (c && strchr(keep, c))) {
            buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 15]};
            buf_put(out, esc, 3);
        }
    }
}

/* Decode "%XX" at s[i..len); returns the byte or -1. */
static int escape_at(const char *s, size_t len, size_t i)
{
    if (i + 2 >= len || s[i] != '%')
        return -1;
    int hi = text_hex_value(s[i + 1]), lo = text_hex_value(s[i + 2]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

int text_uri_decode_component(const char *s, size_t len, struct buf *out)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] != '%') {
            buf_putc(out, s[i++]);
            continue;
        }
        int b = escape_at(s, len, i);
        if (b < 0)
            return -1;
        i += 3;
        if (b < 0x80) {
            buf_putc(out, (char)b);
            continue;
        }
        unsigned cp = 0;
        unsigned char lower, upper;
        int need = utf8_lead((unsigned char)b, &cp, &lower, &upper);
        if (!need)
            return -1;
        for (int k = 0; k < need; k++, i += 3) {
            int c = escape_at(s, len, i);
            if (c < lower || c > upper)
                return -1;
            cp = cp << 6 | ((unsigned)c & 0x3F);
            lower = 0x80;
            upper = 0xBF;
        }
        put_utf8(out, cp);
    }
    return 0;
}
