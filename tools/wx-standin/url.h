/* url.h -- a request target cut into its path and its query: the path is
 * everything before '?' (or '#'), the query what follows '?' up to '#'.
 * Nothing is decoded or normalised: routes match the path exactly and
 * parameters are read with shared/query.h. Pure; untrusted input. */
#ifndef STANDIN_URL_H
#define STANDIN_URL_H

#include "buf.h"

#include <stddef.h>

/* The path and query of a target, as slices borrowed from it. */
struct url_target {
    const char *path;
    size_t path_len;
    const char *query; /* without '?'; query_len 0 when there is none */
    size_t query_len;
};

/* Cut target[0..len) into t without copying. A target with no '?' has an
 * empty query; a fragment is dropped. */
void url_cut_target(const char *target, size_t len, struct url_target *t);

/* Copy the path of target[0..len) into path and its query (without '?')
 * into query, both cleared first and NUL-terminated (buf_str), as
 * url_cut_target() cuts them. */
void url_split_target(const char *target, size_t len, struct buf *path, struct buf *query);

#endif
