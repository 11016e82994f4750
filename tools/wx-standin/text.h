/* text.h -- the text conversions the Node stand-in got from JavaScript:
 * WHATWG UTF-8 decoding (invalid bytes become U+FFFD), latin1 strings (how
 * Node reads request lines and headers), String.length in UTF-16 units,
 * encodeURIComponent and decodeURIComponent. Pure; untrusted input. */
#ifndef STANDIN_TEXT_H
#define STANDIN_TEXT_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Append the UTF-8 decoding of in[0..len) to out the way TextDecoder does
 * (WHATWG "UTF-8 decode without BOM"): each maximal invalid subsequence
 * becomes U+FFFD, so out holds valid UTF-8 (NUL bytes stay). */
void text_utf8_decode(const char *in, size_t len, struct buf *out);

/* Append in[0..len) read as latin1 (each byte one code point) as UTF-8. */
void text_latin1_to_utf8(const char *in, size_t len, struct buf *out);

/* JavaScript's String.length of valid UTF-8 text: code points, with those
 * above U+FFFF counted twice (surrogate pairs). */
size_t text_utf16_length(const char *s, size_t len);

/* Length in bytes of the first character of valid UTF-8 text (0 if empty). */
size_t text_first_char_len(const char *s, size_t len);

/* Append encodeURIComponent(s) for valid UTF-8 s: everything but
 * A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX (upper-case hex) of its bytes. */
void text_uri_encode_component(const char *s, size_t len, struct buf *out);

/* Append decodeURIComponent(s): %XX escapes decoded, other bytes copied.
 * Returns 0, or -1 where JavaScript throws URIError (a '%' without two hex
 * digits, or escapes that are not exactly one valid UTF-8 character). */
int text_uri_decode_component(const char *s, size_t len, struct buf *out);

/* Value of a hex digit, or -1. */
int text_hex_value(char c);

#endif
