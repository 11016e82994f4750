/* url.c -- splitting request targets into path and query. */
#include "url.h"

#include <string.h>

void url_cut_target(const char *target, size_t len, struct url_target *t)
{
    const char *hash = memchr(target, '#', len);
    size_t end = hash ? (size_t)(hash - target) : len;
    const char *mark = memchr(target, '?', end);
    t->path = target;
    t->path_len = mark ? (size_t)(mark - target) : end;
    t->query = mark ? mark + 1 : target + end;
    t->query_len = mark ? end - t->path_len - 1 : 0;
}

void url_split_target(const char *target, size_t len, struct buf *path, struct buf *query)
{
    struct url_target t;
    url_cut_target(target, len, &t);
    buf_clear(path);
    buf_clear(query);
    buf_put(path, t.path, t.path_len);
    buf_put(query, t.query, t.query_len);
}
