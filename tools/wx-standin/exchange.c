/* exchange.c -- the jscode2session answers and their failure modes. */
#include "exchange.h"
#include "crypto.h"
#include "jscompat.h"
#include "url.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Longest delay a code may ask for (ms). */
#define EXCHANGE_DELAY_MAX 120000

struct exchange_later {
    char *query; /* the request's query, copied */
    size_t query_len;
    char *reply; /* the code's reply behaviour when the request came ("" none) */
    size_t reply_len;
};

/* The entry of the request's js_code, or NULL. */
static struct code_entry *find_code(struct standin *s, const char *query, size_t query_len)
{
    struct buf code = BUF_INIT;
    url_param_get(query, query_len, "js_code", &code);
    struct code_entry *e = codes_find(s->codes, buf_str(&code), code.len);
    buf_free(&code);
    return e;
}

/* true when parameter `name` is present and equals `want` exactly (v is
 * scratch space). */
static bool param_is(const char *query, size_t query_len, const char *name, const char *want,
                     struct buf *v)
{
    return url_param_get(query, query_len, name, v) && v->len == strlen(want) &&
           memcmp(buf_str(v), want, v->len) == 0;
}

static json_t *wx_error(int errcode, const char *errmsg)
{
    return json_pack("{s:i, s:s}", "errcode", errcode, "errmsg", errmsg);
}

/* The first failed check of the exchange's appid, secret and grant_type
 * (in WeChat's order), or NULL when all pass. */
static json_t *check_params(struct standin *s, const char *query, size_t query_len)
{
    struct buf v = BUF_INIT;
    json_t *err = NULL;
    if (!param_is(query, query_len, "appid", s->cfg->appid, &v))
        err = wx_error(40013, "invalid appid");
    else if (!param_is(query, query_len, "secret", s->cfg->secret, &v))
        err = wx_error(40125, "invalid appsecret");
    else if (!param_is(query, query_len, "grant_type", "authorization_code", &v))
        err = wx_error(40002, "invalid grant_type");
    buf_free(&v);
    return err;
}

/* What WeChat answers to a plain exchange of code e (NULL: unknown), and
 * the code marked used. */
static json_t *exchange_json(struct standin *s, const char *query, size_t query_len,
                             struct code_entry *e, long long now_ms)
{
    json_t *err = check_params(s, query, query_len);
    if (err)
        return err;
    if (!e || now_ms - e->issued_ms > CODES_TTL_MS)
        return wx_error(40029, "invalid code");
    if (e->used)
        return wx_error(40163, "code been used");
    e->used = true;
    char key[BASE64_ENCODED_LEN(16) + 1];
    base64_encode(e->session_key, sizeof(e->session_key), key);
    json_t *v = json_pack("{s:s, s:s}", "session_key", key, "openid", e->openid);
    if (v && e->unionid[0] && json_object_set_new(v, "unionid", json_string(e->unionid)) < 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* Answer the exchange of code e (NULL: unknown) with the reply behaviour
 * reply[0..reply_len) ("" for a plain exchange). */
static void answer_reply(struct standin *s, const char *query, size_t query_len,
                         struct code_entry *e, const char *reply, size_t reply_len,
                         long long now_ms, struct answer *a)
{
    if (reply_len == 7 && memcmp(reply, "http500", 7) == 0) {
        answer_text(a, 500, "text/plain", "internal error");
    } else if (reply_len == 7 && memcmp(reply, "garbage", 7) == 0) {
        answer_text(a, 200, "text/html", "<html>not json");
    } else if (reply_len >= 8 && memcmp(reply, "errcode:", 8) == 0) {
        if (e)
            e->used = true;
        int precision = 0;
        json_t *code = js_number_json(js_number(reply + 8, reply_len - 8), &precision);
        answer_json(a, 200, "text/plain",
                    json_pack("{s:o, s:s}", "errcode", code, "errmsg", "stand-in failure"),
                    precision);
    } else {
        answer_json(a, 200, "text/plain", exchange_json(s, query, query_len, e, now_ms), 0);
    }
}

long exchange_start(struct standin *s, const char *query, size_t query_len, long long now_ms,
                    struct answer *a, struct exchange_later **later)
{
    struct code_entry *e = find_code(s, query, query_len);
    const char *reply = e && !e->used && e->reply ? e->reply : "";
    size_t reply_len = e && !e->used && e->reply ? e->reply_len : 0;
    if (e && !e->used && e->delay_ms > 0) {
        struct exchange_later *x = xcalloc(1, sizeof(*x));
        x->query = xstrndup(query, query_len);
        x->query_len = query_len;
        x->reply = xstrndup(reply, reply_len);
        x->reply_len = reply_len;
        *later = x;
        return e->delay_ms < 1 ? 1 : (long)fmin(e->delay_ms, EXCHANGE_DELAY_MAX);
    }
    answer_reply(s, query, query_len, e, reply, reply_len, now_ms, a);
    return 0;
}

void exchange_finish(struct standin *s, const struct exchange_later *later, long long now_ms,
                     struct answer *a)
{
    struct code_entry *e = find_code(s, later->query, later->query_len);
    answer_reply(s, later->query, later->query_len, e, later->reply, later->reply_len, now_ms, a);
}

void exchange_later_free(struct exchange_later *later)
{
    if (!later)
        return;
    free(later->query);
    free(later->reply);
    free(later);
}
