/* utf8.c -- incremental UTF-8 validation. */
#include "utf8.h"

void utf8_init(struct utf8_state *s)
{
    s->need = 0;
    s->lo = 0x80;
    s->hi = 0xBF;
}

/* Start a sequence with lead byte b; returns false for an invalid lead. */
static bool utf8_lead(struct utf8_state *s, uint8_t b)
{
    s->lo = 0x80;
    s->hi = 0xBF;
    if (b < 0x80)
        return true;
    if (b >= 0xC2 && b <= 0xDF) {
        s->need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        s->need = 2;
        if (b == 0xE0)
            s->lo = 0xA0; /* no overlongs */
        if (b == 0xED)
            s->hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        s->need = 3;
        if (b == 0xF0)
            s->lo = 0x90;
        if (b == 0xF4)
            s->hi = 0x8F; /* <= U+10FFFF */
    } else {
        return false;
    }
    return true;
}

bool utf8_feed(struct utf8_state *s, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        if (s->need == 0) {
            if (!utf8_lead(s, b))
                return false;
            continue;
        }
        if (b < s->lo || b > s->hi)
            return false;
        s->lo = 0x80;
        s->hi = 0xBF;
        s->need--;
    }
    return true;
}

bool utf8_complete(const struct utf8_state *s)
{
    return s->need == 0;
}

bool utf8_valid(const uint8_t *p, size_t len)
{
    struct utf8_state s;
    utf8_init(&s);
    return utf8_feed(&s, p, len) && utf8_complete(&s);
}

size_t utf8_valid_prefix(const uint8_t *p, size_t len)
{
    struct utf8_state s;
    utf8_init(&s);
    size_t whole = 0;
    for (size_t i = 0; i < len && utf8_feed(&s, p + i, 1); i++)
        if (utf8_complete(&s))
            whole = i + 1;
    return whole;
}

size_t utf8_length(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            n++;
    return n;
}
