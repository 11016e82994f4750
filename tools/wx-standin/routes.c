/* routes.c -- dispatch by method and pathname. */
#include "routes.h"
#include "avatar.h"
#include "issue.h"
#include "url.h"

#include <stdbool.h>
#include <string.h>

#define AVATAR_PREFIX "/standin/avatar/"
#define AVATAR_SUFFIX ".svg"
#define AVATAR_NAME_MAX 200

static bool path_is(const struct buf *path, const char *want)
{
    return strcmp(buf_str(path), want) == 0;
}

/* The NAME of "/standin/avatar/NAME.svg" (1..200 characters, no '/'), as
 * the Node version's regular expression matched it; false otherwise. */
static bool avatar_name(const struct buf *path, const char **name, size_t *len)
{
    size_t pre = strlen(AVATAR_PREFIX), suf = strlen(AVATAR_SUFFIX);
    const char *p = buf_str(path);
    if (path->len < pre + suf + 1 || strncmp(p, AVATAR_PREFIX, pre) != 0 ||
        strcmp(p + path->len - suf, AVATAR_SUFFIX) != 0)
        return false;
    *name = p + pre;
    *len = path->len - pre - suf;
    return *len <= AVATAR_NAME_MAX && !memchr(*name, '/', *len);
}

long routes_handle(struct standin *s, const struct http_req *req, long long now_ms,
                   struct answer *a, struct exchange_later **later)
{
    struct buf path = BUF_INIT;
    const char *query, *name;
    size_t query_len, name_len;
    long delay = 0;
    bool get = http_req_method_is(req, "GET");
    url_split_target(req->target, req->target_len, &path, &query, &query_len);
    if (get && path_is(&path, "/sns/jscode2session"))
        delay = exchange_start(s, query, query_len, now_ms, a, later);
    else if ((get || http_req_method_is(req, "POST")) && path_is(&path, "/standin/code"))
        issue_code(s, req, query, query_len, now_ms, a);
    else if (get && avatar_name(&path, &name, &name_len))
        avatar_answer(name, name_len, a);
    else if (path_is(&path, "/standin/healthz"))
        answer_json(a, 200, "application/json", json_pack("{s:b}", "ok", 1), 0);
    else
        answer_json(a, 404, "application/json",
                    json_pack("{s:i, s:s}", "errcode", -1, "errmsg", "not found"), 0);
    buf_free(&path);
    return delay;
}
