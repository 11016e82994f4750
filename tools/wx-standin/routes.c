/* routes.c -- dispatch by method and exact path. */
#include "routes.h"
#include "avatar.h"
#include "issue.h"
#include "url.h"

#include <stdbool.h>
#include <string.h>

#define AVATAR_PREFIX "/standin/avatar/"
#define AVATAR_SUFFIX ".svg"

/* The NAME of "/standin/avatar/NAME.svg" (1..AVATAR_NAME_MAX bytes as
 * sent, no '/'); false otherwise. */
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
    struct buf path = BUF_INIT, query = BUF_INIT;
    const char *p, *name;
    size_t name_len;
    long delay = 0;
    bool get = http_req_method_is(req, "GET");
    url_split_target(req->target, req->target_len, &path, &query);
    p = buf_str(&path);
    if (get && strcmp(p, "/sns/jscode2session") == 0)
        delay = exchange_start(s, buf_str(&query), now_ms, a, later);
    else if ((get || http_req_method_is(req, "POST")) && strcmp(p, "/standin/code") == 0)
        issue_code(s, req, buf_str(&query), now_ms, a);
    else if (get && avatar_name(&path, &name, &name_len))
        avatar_answer(name, name_len, a);
    else if (strcmp(p, "/standin/healthz") == 0)
        answer_json(a, 200, "application/json", json_pack("{s:b}", "ok", 1));
    else
        answer_json(a, 404, "application/json",
                    json_pack("{s:i, s:s}", "errcode", -1, "errmsg", "not found"));
    buf_free(&path);
    buf_free(&query);
    return delay;
}
