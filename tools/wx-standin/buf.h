/* buf.h -- a growable byte buffer (the stand-in's strings may hold NUL
 * bytes, so every one carries its length). Always NUL-terminated after
 * p[len] for convenience; allocation failure aborts (util.h). */
#ifndef STANDIN_BUF_H
#define STANDIN_BUF_H

#include <stddef.h>

struct buf {
    char *p;    /* NULL until the first append */
    size_t len; /* bytes in use, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Append n bytes of s. */
void buf_put(struct buf *b, const void *s, size_t n);

/* Append a NUL-terminated string. */
void buf_puts(struct buf *b, const char *s);

/* Append one byte. */
void buf_putc(struct buf *b, char c);

/* Append printf-formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Make room for n more bytes; returns where they go (write them, then
 * add n to b->len yourself). */
char *buf_reserve(struct buf *b, size_t n);

/* Forget the contents, keep the memory. */
void buf_clear(struct buf *b);

/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);

/* Release the memory; b is empty again. */
void buf_free(struct buf *b);

/* The contents as a NUL-terminated string ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);

#endif
