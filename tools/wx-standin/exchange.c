/* exchange.c -- the jscode2session answers and their failure modes. */
#include "exchange.h"
#include "crypto.h"
#include "query.h"
#include "text.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Longest parameter value compared (appid, secret, grant_type, js_code). */
#define EXCHANGE_PARAM_CAP 256

struct exchange_later {
    char *query; /* the request's query, copied */
    char *reply; /* the code's reply behaviour when the request came ("" none) */
};

/* The entry of the request's js_code, or NULL (also when js_code is
 * missing, malformed or too long). */
static struct code_entry *find_code(struct standin *s, const char *query)
{
    char code[EXCHANGE_PARAM_CAP];
    long n = query_get(query, "js_code", code, sizeof(code));
    return n < 0 ? NULL : codes_find(s->codes, code, (size_t)n);
}

/* true when parameter `name` is present, decodable and equals `want`. */
static bool param_is(const char *query, const char *name, const char *want)
{
    char v[EXCHANGE_PARAM_CAP];
    return query_get(query, name, v, sizeof(v)) >= 0 && strcmp(v, want) == 0;
}

static json_t *wx_error(json_int_t errcode, const char *errmsg)
{
    return json_pack("{s:I, s:s}", "errcode", errcode, "errmsg", errmsg);
}

/* The first failed check of the exchange's appid, secret and grant_type
 * (in WeChat's order), or NULL when all pass. */
static json_t *check_params(struct standin *s, const char *query)
{
    if (!param_is(query, "appid", s->cfg->appid))
        return wx_error(40013, "invalid appid");
    if (!param_is(query, "secret", s->cfg->secret))
        return wx_error(40125, "invalid appsecret");
    if (!param_is(query, "grant_type", "authorization_code"))
        return wx_error(40002, "invalid grant_type");
    return NULL;
}

/* What WeChat answers to a plain exchange of code e (NULL: unknown), and
 * the code marked used. */
static json_t *exchange_json(struct standin *s, const char *query, struct code_entry *e,
                             long long now_ms)
{
    json_t *err = check_params(s, query);
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
 * `reply` ("" for a plain exchange). */
static void answer_reply(struct standin *s, const char *query, struct code_entry *e,
                         const char *reply, long long now_ms, struct answer *a)
{
    long errcode;
    if (strcmp(reply, "http500") == 0) {
        answer_text(a, 500, "text/plain", "internal error");
    } else if (strcmp(reply, "garbage") == 0) {
        answer_text(a, 200, "text/html", "<html>not json");
    } else if (strncmp(reply, "errcode:", 8) == 0 && text_to_long(reply + 8, &errcode) == 0) {
        if (e)
            e->used = true;
        answer_json(a, 200, "text/plain", wx_error(errcode, "stand-in failure"));
    } else {
        answer_json(a, 200, "text/plain", exchange_json(s, query, e, now_ms));
    }
}

long exchange_start(struct standin *s, const char *query, long long now_ms, struct answer *a,
                    struct exchange_later **later)
{
    struct code_entry *e = find_code(s, query);
    const char *reply = e && !e->used && e->reply ? e->reply : "";
    if (e && !e->used && e->delay_ms > 0) {
        struct exchange_later *x = xcalloc(1, sizeof(*x));
        x->query = xstrdup(query);
        x->reply = xstrdup(reply);
        *later = x;
        return e->delay_ms;
    }
    answer_reply(s, query, e, reply, now_ms, a);
    return 0;
}

void exchange_finish(struct standin *s, const struct exchange_later *later, long long now_ms,
                     struct answer *a)
{
    struct code_entry *e = find_code(s, later->query);
    answer_reply(s, later->query, e, later->reply, now_ms, a);
}

void exchange_later_free(struct exchange_later *later)
{
    if (!later)
        return;
    free(later->query);
    free(later->reply);
    free(later);
}
