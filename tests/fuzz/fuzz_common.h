/* fuzz_common.h -- helpers shared by the libFuzzer targets: a reference
 * UTF-8 decoder written independently of the ones under test, chunk sizes
 * derived from the input, NUL-terminated copies and line splitting.
 * Header-only (static functions), included by each tests/fuzz/fuzz_*.c. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Check a condition that must hold for every input; a violation is a crash
 * the fuzzer reports (with the input saved as a crash file). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(#cond, __FILE__, __LINE__);                                                  \
    } while (0)

#include <stdio.h>
static inline void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, what);
    abort();
}

/* Reference UTF-8 check (RFC 3629) by decoding code points: the shortest
 * form only, no surrogates, nothing above U+10FFFF. Sets *chars (may be
 * NULL) to the number of code points of valid text. */
static inline bool fuzz_utf8_ok(const uint8_t *p, size_t len, size_t *chars)
{
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        uint32_t c = p[i], min;
        size_t extra;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    if (chars)
        *chars = n;
    return true;
}

/* Size of chunk number k (1..max) for feeding an input in pieces, derived
 * from the input's first bytes so the fuzzer controls the split points. */
static inline size_t fuzz_chunk(const uint8_t *data, size_t size, size_t k, size_t max)
{
    if (size == 0 || max == 0)
        return 1;
    size_t seed = size < 8 ? size : 8;
    return 1 + (size_t)(data[k % seed] * 31u + k) % max;
}

/* A malloc'ed NUL-terminated copy of p[0..len). */
static inline char *fuzz_strndup(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* The next '\n'-terminated line of data[*off..size) as a malloc'ed string
 * (the rest of the input for the last one); "" past the end. */
static inline char *fuzz_line(const uint8_t *data, size_t size, size_t *off)
{
    size_t start = *off < size ? *off : size, end = start;
    while (end < size && data[end] != '\n')
        end++;
    *off = end < size ? end + 1 : size;
    return fuzz_strndup(data + start, end - start);
}

#endif
