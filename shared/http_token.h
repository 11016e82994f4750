/* http_token.h -- HTTP header values that are comma-separated token lists
 * (Connection, Upgrade): does the list hold a token? Pure; untrusted input. */
#ifndef SHARED_HTTP_TOKEN_H
#define SHARED_HTTP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* true when the comma-separated token list `list` (len bytes) contains
 * `token`, compared case-insensitively. */
bool http_has_token(const char *list, size_t len, const char *token);

#endif
