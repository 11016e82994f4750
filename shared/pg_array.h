/* pg_array.h -- PostgreSQL array literals for passing many values in one
 * query parameter (text format): {"a","b\"c",NULL}. */
#ifndef SHARED_PG_ARRAY_H
#define SHARED_PG_ARRAY_H

#include <stddef.h>

/* A text[] literal of the n strings of items: each element double-quoted
 * with '"' and '\' escaped, a NULL entry written as NULL. Cast it in SQL
 * ($1::bigint[], $2::text[]...). Returns a malloc'ed string the caller
 * frees; aborts only when out of memory. */
char *pg_array_literal(const char *const *items, size_t n);

#endif
