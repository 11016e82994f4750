/* exchange.c -- the jscode2session answers and their failure modes. */
#include "exchange.h"
#include "crypto.h"
#include "query.h"
#include "text.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest parameter value compared (appid, secret, grant_type, js_code). */
#define EXCHANGE_PARAM_CAP 256

struct exchange_later {
    char *query; /* the request's query, copied (NUL-terminated) */
    char *reply; /* the code's reply behaviour when the request came ("" none) */
};

/* The parameters an exchange reads, in the order of `param_names`. */
enum param { PARAM_APPID, PARAM_SECRET, PARAM_GRANT_TYPE, PARAM_JS_CODE, PARAM_COUNT };

static const char *const param_names[PARAM_COUNT] = {"appid", "secret", "grant_type", "js_code"};

/* Which of param_names the key k[0..len) is, decoded and compared
 * case-insensitively as query_get() does; PARAM_COUNT for none. */
static enum param param_of(const char *k, size_t len)
{
    char key[16]; /* longer than every name: a longer key matches none */
    if (query_decode(k, len, key, sizeof(key)) < 0)
        return PARAM_COUNT;
    int i = 0;
    while (i < PARAM_COUNT && strcasecmp(key, param_names[i]) != 0)
        i++;
    return (enum param)i;
}

/* The exchange's parameters in query[0..len), found in one pass: the
 * first occurrence of each, as query_get() finds it; value NULL when a
 * parameter is absent. */
static void params_find(const char *query, size_t len, struct query_pair out[PARAM_COUNT])
{
    const char *p = query, *end = query + len;
    struct query_pair pair;
    memset(out, 0, PARAM_COUNT * sizeof(*out));
    while (query_next(&p, end, &pair)) {
        enum param i = param_of(pair.key, pair.key_len);
        if (i != PARAM_COUNT && !out[i].value)
            out[i] = pair;
    }
}

/* Decode parameter pv's value into out (EXCHANGE_PARAM_CAP bytes).
 * Returns its length, or a negative enum query_status (QUERY_NOT_FOUND
 * when absent). */
static long param_decode(const struct query_pair *pv, char out[EXCHANGE_PARAM_CAP])
{
    return pv->value ? query_decode(pv->value, pv->value_len, out, EXCHANGE_PARAM_CAP)
                     : QUERY_NOT_FOUND;
}

/* The entry of the request's js_code, or NULL (also when js_code is
 * missing, malformed or too long). */
static struct code_entry *find_code(struct standin *s, const struct query_pair *params)
{
    char code[EXCHANGE_PARAM_CAP];
    long n = param_decode(&params[PARAM_JS_CODE], code);
    return n < 0 ? NULL : codes_find(s->codes, code, (size_t)n);
}

/* true when parameter pv is present, decodable and equals `want`. */
static bool param_is(const struct query_pair *pv, const char *want)
{
    char v[EXCHANGE_PARAM_CAP];
    return param_decode(pv, v) >= 0 && strcmp(v, want) == 0;
}

static json_t *wx_error(json_int_t errcode, const char *errmsg)
{
    return json_pack("{s:I, s:s}", "errcode", errcode, "errmsg", errmsg);
}

/* The first failed check of the exchange's appid, secret and grant_type
 * (in WeChat's order), or NULL when all pass. */
static json_t *check_params(struct standin *s, const struct query_pair *params)
{
    if (!param_is(&params[PARAM_APPID], s->cfg->appid))
        return wx_error(40013, "invalid appid");
    if (!param_is(&params[PARAM_SECRET], s->cfg->secret))
        return wx_error(40125, "invalid appsecret");
    if (!param_is(&params[PARAM_GRANT_TYPE], "authorization_code"))
        return wx_error(40002, "invalid grant_type");
    return NULL;
}

int exchange_session_encode(struct code_entry *e)
{
    char key[BASE64_ENCODED_LEN(16) + 1];
    base64_encode(e->session_key, sizeof(e->session_key), key);
    json_t *v = json_pack("{s:s, s:s}", "session_key", key, "openid", e->openid);
    if (v && e->unionid[0] && json_object_set_new(v, "unionid", json_string(e->unionid)) < 0) {
        json_decref(v);
        v = NULL;
    }
    free(e->session);
    e->session = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return e->session ? 0 : -1;
}

/* The error WeChat answers to a plain exchange of code e (NULL: unknown),
 * or NULL when the exchange succeeds. */
static json_t *exchange_error(struct standin *s, const struct query_pair *params,
                              const struct code_entry *e, long long now_ms)
{
    json_t *err = check_params(s, params);
    if (err)
        return err;
    if (!e || now_ms - e->issued_ms > CODES_TTL_MS)
        return wx_error(40029, "invalid code");
    if (e->used)
        return wx_error(40163, "code been used");
    return NULL;
}

/* Answer a plain exchange of code e (NULL: unknown) as WeChat does; a
 * successful one marks the code used and answers its encoded session. */
static void answer_exchange(struct standin *s, const struct query_pair *params,
                            struct code_entry *e, long long now_ms, struct answer *a)
{
    json_t *err = exchange_error(s, params, e, now_ms);
    if (err) {
        answer_json(a, 200, "text/plain", err);
        return;
    }
    e->used = true;
    if (e->session)
        answer_text(a, 200, "text/plain", e->session);
    else
        answer_json(a, 200, "text/plain", NULL); /* never expected: the logged 500 */
}

/* Answer the exchange of code e (NULL: unknown) with the reply behaviour
 * `reply` ("" for a plain exchange). */
static void answer_reply(struct standin *s, const struct query_pair *params, struct code_entry *e,
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
        answer_exchange(s, params, e, now_ms, a);
    }
}

long exchange_start(struct standin *s, const char *query, size_t len, long long now_ms,
                    struct answer *a, struct exchange_later **later)
{
    struct query_pair params[PARAM_COUNT];
    params_find(query, len, params);
    struct code_entry *e = find_code(s, params);
    const char *reply = e && !e->used && e->reply ? e->reply : "";
    if (e && !e->used && e->delay_ms > 0) {
        struct exchange_later *x = xcalloc(1, sizeof(*x));
        x->query = xstrndup(query, len);
        x->reply = xstrdup(reply);
        *later = x;
        return e->delay_ms;
    }
    answer_reply(s, params, e, reply, now_ms, a);
    return 0;
}

void exchange_finish(struct standin *s, const struct exchange_later *later, long long now_ms,
                     struct answer *a)
{
    struct query_pair params[PARAM_COUNT];
    params_find(later->query, strlen(later->query), params);
    answer_reply(s, params, find_code(s, params), later->reply, now_ms, a);
}

void exchange_later_free(struct exchange_later *later)
{
    if (!later)
        return;
    free(later->query);
    free(later->reply);
    free(later);
}
