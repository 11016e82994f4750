/* params.h -- the wafer parameters (X-WX-Code, X-WX-Skey, ...) of a request:
 * taken from a request header or, failing that, from the query string.
 * Pure and allocation-free, so unit tests need no FastCGI. */
#ifndef LOGIN_PARAMS_H
#define LOGIN_PARAMS_H

#include <stddef.h>

enum param_status {
    PARAM_OK = 0,
    PARAM_MISSING = -1,   /* neither a header nor a query parameter (or both empty) */
    PARAM_TOO_LONG = -2,  /* the value does not fit in cap - 1 bytes */
    PARAM_MALFORMED = -3  /* a bad %-escape or a NUL in the query value */
};

/* Look `name` (e.g. "X-WX-Code") up in the CGI environment envp (NULL-
 * terminated "KEY=value" strings: the header is HTTP_X_WX_CODE) and then in
 * `query` (names compared case-insensitively, value percent-decoded). A
 * non-empty header wins over the query. Copies the value into out (cap bytes
 * including the NUL) and returns its length, or a negative param_status. */
long param_get(char *const *envp, const char *query, const char *name, char *out, size_t cap);

/* The CGI variable name of header `name`: "HTTP_" + upper case, '-' as '_'.
 * Returns 0, or -1 when it does not fit in cap bytes. */
int param_header_var(const char *name, char *out, size_t cap);

#endif
