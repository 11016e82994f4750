/* pg_array.h -- one-dimensional PostgreSQL arrays in the binary wire
 * format, for passing many values in one query parameter (send it with
 * paramFormats 1 and the length pg_array_finish() returns). The server
 * reads such an array with array_recv: no quoting or escaping on this
 * side, no text to parse on that one (docs/database.md, "Array
 * parameters"). The parameter's type must be the array's: cast it in SQL
 * ($1::bigint[] for PG_INT8, $2::text[] for PG_TEXT, and so on). */
#ifndef SHARED_PG_ARRAY_H
#define SHARED_PG_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The element types, by their PostgreSQL names. */
enum pg_elem_type { PG_INT4, PG_INT8, PG_TEXT, PG_BYTEA };

/* An array being built: its header, then each element's length and bytes.
 * Owns buf; release it with pg_array_free(). */
struct pg_array {
    char *buf;
    size_t len, cap;
    uint32_t n;
    bool has_null;
    enum pg_elem_type type;
};

/* An empty array of `type`, with room for about `hint` bytes of elements. */
void pg_array_init(struct pg_array *a, enum pg_elem_type type, size_t hint);

/* Append an element. Each function is for the types its name says;
 * pg_array_add_text() appends a NULL element for a NULL s. */
void pg_array_add_int4(struct pg_array *a, int32_t v);
void pg_array_add_int8(struct pg_array *a, int64_t v);
void pg_array_add_text(struct pg_array *a, const char *s);
void pg_array_add_bytes(struct pg_array *a, const void *p, size_t n); /* PG_TEXT, PG_BYTEA */
void pg_array_add_null(struct pg_array *a);

/* Fill in the header. The parameter is a->buf; returns its length. */
int pg_array_finish(struct pg_array *a);

/* Wipe (an array may carry session keys) and free the buffer. */
void pg_array_free(struct pg_array *a);

#endif
