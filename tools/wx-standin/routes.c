/* routes.c -- dispatch by method and exact path. */
#include "routes.h"
#include "avatar.h"
#include "issue.h"
#include "url.h"

#include <stdbool.h>
#include <string.h>

#define AVATAR_PREFIX "/standin/avatar/"
#define AVATAR_SUFFIX ".svg"

/* true when the target's path is exactly `want`. */
static bool path_is(const struct url_target *t, const char *want)
{
    size_t n = strlen(want);
    return t->path_len == n && memcmp(t->path, want, n) == 0;
}

/* The NAME of "/standin/avatar/NAME.svg" (1..AVATAR_NAME_MAX bytes as
 * sent, no '/'); false otherwise. */
static bool avatar_name(const struct url_target *t, const char **name, size_t *len)
{
    size_t pre = strlen(AVATAR_PREFIX), suf = strlen(AVATAR_SUFFIX);
    if (t->path_len < pre + suf + 1 || memcmp(t->path, AVATAR_PREFIX, pre) != 0 ||
        memcmp(t->path + t->path_len - suf, AVATAR_SUFFIX, suf) != 0)
        return false;
    *name = t->path + pre;
    *len = t->path_len - pre - suf;
    return *len <= AVATAR_NAME_MAX && !memchr(*name, '/', *len);
}

/* Issue a code for the query t->query[0..query_len). */
static void route_issue(struct standin *s, const struct http_req *req, const struct url_target *t,
                        long long now_ms, struct answer *a)
{
    struct buf query = BUF_INIT;
    buf_put(&query, t->query, t->query_len);
    issue_code(s, req, buf_str(&query), now_ms, a);
    buf_free(&query);
}

long routes_handle(struct standin *s, const struct http_req *req, long long now_ms,
                   struct answer *a, struct exchange_later **later)
{
    struct url_target t;
    const char *name;
    size_t name_len;
    bool get = http_req_method_is(req, "GET");
    url_cut_target(req->target, req->target_len, &t);
    if (get && path_is(&t, "/sns/jscode2session"))
        return exchange_start(s, t.query, t.query_len, now_ms, a, later);
    if ((get || http_req_method_is(req, "POST")) && path_is(&t, "/standin/code"))
        route_issue(s, req, &t, now_ms, a);
    else if (get && avatar_name(&t, &name, &name_len))
        avatar_answer(name, name_len, a);
    else if (path_is(&t, "/standin/healthz"))
        answer_json(a, 200, "application/json", json_pack("{s:b}", "ok", 1));
    else
        answer_json(a, 404, "application/json",
                    json_pack("{s:i, s:s}", "errcode", -1, "errmsg", "not found"));
    return 0;
}
