/* pg_array.c -- PostgreSQL arrays in the binary format (see pg_array.h).
 *
 * The layout array_recv() reads, every integer in network byte order:
 * ndim (1; 0 for the empty array, which ends there), has-null flag,
 * element type OID, then per dimension its length and lower bound (1);
 * then per element a 32-bit length (-1 for NULL) and that many bytes (an
 * int4 or int8 as 4 or 8 big-endian bytes, text and bytea as they are). */
#include "pg_array.h"

#include "util.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN 20

/* The OIDs of the element types: fixed in PostgreSQL's catalog
 * (pg_type.dat) since the types exist. */
static uint32_t elem_oid(enum pg_elem_type t)
{
    switch (t) {
    case PG_INT4:
        return 23;
    case PG_INT8:
        return 20;
    case PG_TEXT:
        return 25;
    case PG_BYTEA:
        return 17;
    }
    abort();
}

static void put_u32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24), p[1] = (char)(v >> 16), p[2] = (char)(v >> 8), p[3] = (char)v;
}

/* Room for `more` bytes at the end. */
static void reserve(struct pg_array *a, size_t more)
{
    if (a->len + more <= a->cap)
        return;
    size_t cap = a->cap * 2;
    if (cap < a->len + more)
        cap = a->len + more;
    a->buf = xrealloc(a->buf, cap);
    a->cap = cap;
}

/* Append an element's length word (UINT32_MAX, that is -1, for NULL) and
 * room for n bytes after it; returns where they go. */
static char *add_element(struct pg_array *a, uint32_t word, size_t n)
{
    if (n > INT32_MAX || a->n == INT32_MAX) {
        fprintf(stderr, "pg_array: element or array too large\n");
        abort();
    }
    reserve(a, 4 + n);
    char *p = a->buf + a->len;
    put_u32(p, word);
    a->len += 4 + n;
    a->n++;
    return p + 4;
}

void pg_array_init(struct pg_array *a, enum pg_elem_type type, size_t hint)
{
    a->cap = HEADER_LEN + hint;
    a->buf = xmalloc(a->cap);
    a->len = HEADER_LEN;
    a->n = 0;
    a->has_null = false;
    a->type = type;
}

void pg_array_add_int4(struct pg_array *a, int32_t v)
{
    assert(a->type == PG_INT4);
    put_u32(add_element(a, 4, 4), (uint32_t)v);
}

void pg_array_add_int8(struct pg_array *a, int64_t v)
{
    assert(a->type == PG_INT8);
    char *p = add_element(a, 8, 8);
    put_u32(p, (uint32_t)((uint64_t)v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

void pg_array_add_bytes(struct pg_array *a, const void *p, size_t n)
{
    assert(a->type == PG_TEXT || a->type == PG_BYTEA);
    char *dst = add_element(a, (uint32_t)n, n);
    if (n > 0)
        memcpy(dst, p, n);
}

void pg_array_add_text(struct pg_array *a, const char *s)
{
    if (s)
        pg_array_add_bytes(a, s, strlen(s));
    else
        pg_array_add_null(a);
}

void pg_array_add_null(struct pg_array *a)
{
    add_element(a, UINT32_MAX, 0);
    a->has_null = true;
}

int pg_array_finish(struct pg_array *a)
{
    if (a->len > INT_MAX) {
        fprintf(stderr, "pg_array: array too large\n");
        abort();
    }
    put_u32(a->buf, a->n > 0); /* dimensions: none for the empty array */
    put_u32(a->buf + 4, a->has_null);
    put_u32(a->buf + 8, elem_oid(a->type));
    if (a->n == 0)
        return 12;
    put_u32(a->buf + 12, a->n); /* the one dimension's length */
    put_u32(a->buf + 16, 1);    /* and its lower bound */
    return (int)a->len;
}

void pg_array_free(struct pg_array *a)
{
    if (!a->buf)
        return;
    explicit_bzero(a->buf, a->cap);
    free(a->buf);
    a->buf = NULL;
    a->len = a->cap = 0;
}
