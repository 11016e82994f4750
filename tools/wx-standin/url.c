/* url.c -- splitting request targets into path and query. */
#include "url.h"

#include <string.h>

void url_split_target(const char *target, size_t len, struct buf *path, struct buf *query)
{
    const char *hash = memchr(target, '#', len);
    size_t end = hash ? (size_t)(hash - target) : len;
    const char *mark = memchr(target, '?', end);
    size_t path_len = mark ? (size_t)(mark - target) : end;
    buf_clear(path);
    buf_clear(query);
    buf_put(path, target, path_len);
    if (mark)
        buf_put(query, mark + 1, end - path_len - 1);
}
