/* utf8.h -- incremental UTF-8 validation (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), fed in chunks of any size. */
#ifndef RELAY_UTF8_H
#define RELAY_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct utf8_state {
    uint32_t need;  /* continuation bytes still expected */
    uint32_t lo;    /* allowed range of the next continuation byte */
    uint32_t hi;
};

/* Reset s to the start of a text. */
void utf8_init(struct utf8_state *s);

/* Feed len bytes. Returns false as soon as the bytes cannot be the prefix
 * of valid UTF-8 (the state is then undefined). */
bool utf8_feed(struct utf8_state *s, const uint8_t *p, size_t len);

/* true when the text fed so far ends on a character boundary. */
bool utf8_complete(const struct utf8_state *s);

/* Validate a whole buffer. */
bool utf8_valid(const uint8_t *p, size_t len);

/* Length of the longest prefix of p[0..len) that is whole, valid UTF-8
 * (len itself when all of it is). */
size_t utf8_valid_prefix(const uint8_t *p, size_t len);

/* Number of code points in valid UTF-8 text. */
size_t utf8_length(const char *p, size_t len);

#endif
