/* query.h -- URL query strings: percent-decoding and parameter look-up.
 * Bounded and allocation-free: both programs feed it untrusted bytes. */
#ifndef SHARED_QUERY_H
#define SHARED_QUERY_H

#include <stdbool.h>
#include <stddef.h>

enum query_status {
    QUERY_OK = 0,
    QUERY_NOT_FOUND = -1, /* no parameter of that name */
    QUERY_TOO_LONG = -2,  /* decoded value does not fit the buffer */
    QUERY_MALFORMED = -3  /* bad %-escape or NUL byte in the value */
};

/* Percent-decode `len` bytes of in (with '+' meaning space, as in forms)
 * into out, which holds `cap` bytes including the terminating NUL. Returns
 * the decoded length, or QUERY_TOO_LONG / QUERY_MALFORMED. */
long query_decode(const char *in, size_t len, char *out, size_t cap);

/* One name=value pair of a query as sent (not decoded), borrowed from it. */
struct query_pair {
    const char *key, *value; /* value is "" for a pair without '=' */
    size_t key_len, value_len;
};

/* Cut the next pair off the query text [*p, end) into *pair and move *p
 * past it; empty pairs ("&&") are pairs with an empty key. Returns false
 * when *p has reached end. */
bool query_next(const char **p, const char *end, struct query_pair *pair);

/* Find parameter `name` (compared case-insensitively, after decoding) in
 * `query` (the text after '?', without a fragment; NULL counts as empty) and
 * decode its value into out. The first occurrence wins; a parameter without
 * '=' has the empty value. Returns the value's length or a negative
 * enum query_status. */
long query_get(const char *query, const char *name, char *out, size_t cap);

#endif
