/* text.h -- the few text helpers the stand-in needs: checking UTF-8 (JSON
 * strings must be valid), latin1 to UTF-8 (header values, as Node read
 * them), the first character of a name (the avatar's letter), percent-
 * encoding for URLs and decimal integers. Pure; untrusted input. */
#ifndef STANDIN_TEXT_H
#define STANDIN_TEXT_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/* true when s[0..len) is valid UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF; NUL bytes count as valid). */
bool text_utf8_valid(const char *s, size_t len);

/* Append in[0..len) read as latin1 (each byte one code point) as UTF-8. */
void text_latin1_to_utf8(const char *in, size_t len, struct buf *out);

/* Length in bytes of the first character of valid UTF-8 text (0 if empty). */
size_t text_first_char_len(const char *s, size_t len);

/* Append s[0..len) with every byte but A-Z a-z 0-9 - _ . ~ written as %XX
 * (upper-case hex): safe in a URL's path or query. */
void text_percent_encode(const char *s, size_t len, struct buf *out);

/* The whole of s as a decimal integer with an optional sign (no blanks,
 * no other notation) into *out. Returns 0, or -1 for anything else or a
 * value outside long's range. */
int text_to_long(const char *s, long *out);

#endif
