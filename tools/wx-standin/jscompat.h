/* jscompat.h -- the two JavaScript behaviours the stand-in's answers
 * depend on: Number(string) for its numeric parameters (gender, delayMs,
 * errcode:N) and JSON.stringify for its JSON text, on top of jansson. */
#ifndef STANDIN_JSCOMPAT_H
#define STANDIN_JSCOMPAT_H

#include <jansson.h>
#include <stddef.h>

/* Number(s) for valid UTF-8 s[0..len): surrounding JavaScript white space
 * ignored, "" is 0, decimal with optional sign, fraction and exponent,
 * [+-]Infinity, 0x / 0o / 0b integers; anything else NaN. */
double js_number(const char *s, size_t len);

/* The JSON value JSON.stringify writes for x: null for NaN and infinities,
 * an integer for integral values up to 2^53, otherwise a real. New
 * reference (never NULL). When a real is made, *precision is raised to the
 * digits its shortest round-trip form needs (pass it to js_json_text). */
json_t *js_number_json(double x, int *precision);

/* Compact JSON text of v (an object or array) as JSON.stringify writes it:
 * members in insertion order, no escaped '/' or non-ASCII, lower-case
 * \u00xx escapes; reals with `precision` significant digits (0: 17).
 * malloc'ed (free it); *len gets its length. NULL if jansson fails. */
char *js_json_text(const json_t *v, int precision, size_t *len);

#endif
