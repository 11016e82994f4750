/* url.h -- what `new URL(req.url, 'http://standin')` and its searchParams
 * gave the Node stand-in: the normalized, percent-encoded pathname of a
 * request target and URLSearchParams.get() over its query. Pure; the
 * target is untrusted bytes (read as latin1, as Node does). */
#ifndef STANDIN_URL_H
#define STANDIN_URL_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Split target[0..len) into the pathname, appended to path (dot segments
 * removed, '\' read as '/', an authority of "//host/..." or
 * "scheme://host/..." skipped, bytes outside the URL path set written as
 * %XX), and the query: *query points into target after '?' (the fragment
 * cut off), *query_len its length (0 with no query). */
void url_split_target(const char *target, size_t len, struct buf *path, const char **query,
                      size_t *query_len);

/* URLSearchParams(query).get(name): the value of the first parameter
 * named exactly `name` (after decoding: '+' is a space, %XX a byte, an
 * invalid escape stays as it is, raw bytes >= 0x80 are latin1, and the
 * bytes are then decoded as UTF-8 with U+FFFD for invalid sequences).
 * Appends the value to out (cleared first) and returns true; false when
 * absent (out is then empty). */
bool url_param_get(const char *query, size_t query_len, const char *name, struct buf *out);

#endif
