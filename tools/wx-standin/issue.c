/* issue.c -- issuing codes with their user data, signed and encrypted. */
#include "issue.h"
#include "crypto.h"
#include "jscompat.h"
#include "log.h"
#include "text.h"
#include "url.h"
#include "util.h"

#include <math.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USER_MAX 64 /* UTF-16 units, as String.length counts */
#define DELAY_MAX_MS 120000.0
/* WeChat's placeholder profile, given when the user shares none. */
#define PLACEHOLDER_NAME "\xe5\xbe\xae\xe4\xbf\xa1\xe7\x94\xa8\xe6\x88\xb7" /* 微信用户 */
#define PLACEHOLDER_AVATAR                                                                         \
    "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGK"    \
    "SyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132"

/* The query parameters an issuance reads. A value given as "" counts as
 * absent, as `q.get(x) || default` did. */
struct issue_params {
    struct buf user, nick, gender, avatar, plain_openid, wm_appid, delay, reply;
    bool unionid, placeholder;
};

/* Parameter `name` into out; true when present and not empty. */
static bool get(const char *query, size_t query_len, const char *name, struct buf *out)
{
    return url_param_get(query, query_len, name, out) && out->len > 0;
}

static void params_read(const char *q, size_t n, struct issue_params *p)
{
    struct buf flag = BUF_INIT;
    get(q, n, "user", &p->user);
    get(q, n, "nickName", &p->nick);
    get(q, n, "gender", &p->gender);
    get(q, n, "avatarUrl", &p->avatar);
    get(q, n, "openIdInPlaintext", &p->plain_openid);
    get(q, n, "watermarkAppid", &p->wm_appid);
    get(q, n, "delayMs", &p->delay);
    get(q, n, "reply", &p->reply);
    p->unionid = get(q, n, "unionid", &flag) && strcmp(buf_str(&flag), "1") == 0 && flag.len == 1;
    p->placeholder =
        get(q, n, "placeholder", &flag) && strcmp(buf_str(&flag), "1") == 0 && flag.len == 1;
    buf_free(&flag);
}

static void params_free(struct issue_params *p)
{
    struct buf *all[] = {&p->user,         &p->nick,     &p->gender, &p->avatar,
                         &p->plain_openid, &p->wm_appid, &p->delay,  &p->reply};
    for (size_t i = 0; i < countof(all); i++)
        buf_free(all[i]);
}

/* tag + the first 27 characters of base64url(sha256(a + b + user)). */
static int hashed_id(char tag, const char *a, const char *b, const struct buf *user,
                     char out[CODE_ID_LEN + 1])
{
    struct buf text = BUF_INIT;
    unsigned char md[CRYPTO_SHA256_LEN];
    char b64[BASE64_ENCODED_LEN(CRYPTO_SHA256_LEN) + 1];
    buf_puts(&text, a);
    buf_puts(&text, b);
    buf_put(&text, user->p, user->len);
    int rc = crypto_sha256(buf_str(&text), text.len, md);
    buf_free(&text);
    if (rc < 0)
        return -1;
    base64_encode(md, sizeof(md), b64);
    out[0] = tag;
    for (int i = 0; i < CODE_ID_LEN - 1; i++)
        out[i + 1] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[CODE_ID_LEN] = '\0';
    return 0;
}

/* The default avatarUrl: http://HOST/standin/avatar/<user>.svg, HOST from
 * X-Forwarded-Host, Host or STANDIN_LISTEN. */
static void default_avatar(struct standin *s, const struct http_req *req, const struct buf *user,
                           struct buf *out)
{
    struct buf host = BUF_INIT;
    buf_clear(out);
    buf_puts(out, "http://");
    if ((http_req_header(req, "x-forwarded-host", true, &host) && host.len) ||
        (http_req_header(req, "host", false, &host) && host.len))
        buf_put(out, host.p, host.len);
    else
        buf_printf(out, "%s:%s", s->cfg->host, s->cfg->port);
    buf_puts(out, "/standin/avatar/");
    text_uri_encode_component(buf_str(user), user->len, out);
    buf_puts(out, ".svg");
    buf_free(&host);
}

/* userInfo, in the key order of WeChat (and of the Node version). */
static json_t *user_info(struct standin *s, const struct http_req *req, struct issue_params *p,
                         int *precision)
{
    bool ph = p->placeholder;
    double gender = ph || !p->gender.len ? 0 : js_number(p->gender.p, p->gender.len);
    const struct buf *nick = p->nick.len ? &p->nick : &p->user;
    if (!ph && !p->avatar.len)
        default_avatar(s, req, &p->user, &p->avatar);
    return json_pack("{s:s%, s:o, s:s, s:s, s:s, s:s, s:s%}", "nickName",
                     ph ? PLACEHOLDER_NAME : nick->p, ph ? strlen(PLACEHOLDER_NAME) : nick->len,
                     "gender", js_number_json(gender, precision), "language", "zh_CN", "city",
                     ph ? "" : "Guangzhou", "province", ph ? "" : "Guangdong", "country",
                     ph ? "" : "CN", "avatarUrl", ph ? PLACEHOLDER_AVATAR : p->avatar.p,
                     ph ? strlen(PLACEHOLDER_AVATAR) : p->avatar.len);
}

/* {openId, ...userInfo, [unionId], watermark: {timestamp, appid}}. */
static json_t *plaintext(struct standin *s, const struct code_entry *e, const json_t *info,
                         const struct issue_params *p)
{
    const char *oid = p->plain_openid.len ? p->plain_openid.p : e->openid;
    size_t oid_len = p->plain_openid.len ? p->plain_openid.len : strlen(e->openid);
    const char *wm = p->wm_appid.len ? p->wm_appid.p : s->cfg->appid;
    size_t wm_len = p->wm_appid.len ? p->wm_appid.len : strlen(s->cfg->appid);
    json_t *plain = json_pack("{s:s%}", "openId", oid, oid_len);
    if (!plain || json_object_update(plain, (json_t *)info) < 0 ||
        (e->unionid[0] && json_object_set_new(plain, "unionId", json_string(e->unionid)) < 0) ||
        json_object_set_new(plain, "watermark",
                            json_pack("{s:I, s:s%}", "timestamp", (json_int_t)time(NULL), "appid",
                                      wm, wm_len)) < 0) {
        json_decref(plain);
        return NULL;
    }
    return plain;
}

/* AES-128-CBC of text under key with a random IV; both in base64 into the
 * malloc'ed *data and iv_b64. Returns 0 or -1. */
static int encrypt(const unsigned char key[16], const char *text, size_t len, char **data,
                   char iv_b64[BASE64_ENCODED_LEN(16) + 1])
{
    unsigned char iv[16];
    size_t out_len = 0;
    unsigned char *out = xmalloc(len + 16);
    if (RAND_bytes(iv, sizeof(iv)) != 1 ||
        crypto_aes128cbc_encrypt(key, iv, (const unsigned char *)text, len, out, &out_len) < 0) {
        free(out);
        return -1;
    }
    *data = xmalloc(BASE64_ENCODED_LEN(out_len) + 1);
    base64_encode(out, out_len, *data);
    base64_encode(iv, sizeof(iv), iv_b64);
    free(out);
    return 0;
}

/* Fill the new code's entry: session_key, ids, delay and reply. */
static int fill_entry(struct standin *s, struct code_entry *e, const struct issue_params *p)
{
    if (RAND_bytes(e->session_key, sizeof(e->session_key)) != 1 ||
        hashed_id('o', s->cfg->appid, ":", &p->user, e->openid) < 0 ||
        (p->unionid && hashed_id('u', "union:", "", &p->user, e->unionid) < 0))
        return -1;
    double delay = p->delay.len ? js_number(p->delay.p, p->delay.len) : 0;
    e->delay_ms = isnan(delay) ? delay : fmin(delay, DELAY_MAX_MS);
    if (p->reply.len) {
        e->reply = xstrndup(p->reply.p, p->reply.len);
        e->reply_len = p->reply.len;
    }
    return 0;
}

/* The answer for an issued code e: builds userInfo, rawData, signature and
 * the encrypted data. Returns NULL when a step fails (never expected). */
static json_t *issuance(struct standin *s, const struct http_req *req, struct code_entry *e,
                        struct issue_params *p, int *precision)
{
    char key_b64[BASE64_ENCODED_LEN(16) + 1], iv_b64[BASE64_ENCODED_LEN(16) + 1];
    char sig[CRYPTO_SHA1_HEX_LEN + 1];
    char *raw = NULL, *plain_text = NULL, *data = NULL;
    size_t raw_len = 0, plain_len = 0;
    json_t *info = user_info(s, req, p, precision), *plain = NULL, *v = NULL;
    base64_encode(e->session_key, sizeof(e->session_key), key_b64);
    if (!info || !(raw = js_json_text(info, *precision, &raw_len)) ||
        crypto_sha1_hex2(raw, raw_len, key_b64, strlen(key_b64), sig) < 0 ||
        !(plain = plaintext(s, e, info, p)) ||
        !(plain_text = js_json_text(plain, *precision, &plain_len)) ||
        encrypt(e->session_key, plain_text, plain_len, &data, iv_b64) < 0)
        goto out;
    v = json_pack("{s:s, s:s, s:O, s:s%, s:s, s:s, s:s}", "code", e->code, "openid", e->openid,
                  "userInfo", info, "rawData", raw, raw_len, "signature", sig, "encryptedData",
                  data, "iv", iv_b64);
out:
    json_decref(info);
    json_decref(plain);
    free(raw);
    free(plain_text);
    free(data);
    return v;
}

void issue_code(struct standin *s, const struct http_req *req, const char *query, size_t query_len,
                long long now_ms, struct answer *a)
{
    struct issue_params p = {0};
    params_read(query, query_len, &p);
    if (!p.user.len || text_utf16_length(p.user.p, p.user.len) > USER_MAX) {
        answer_json(a, 400, "application/json",
                    json_pack("{s:s}", "error", "user (1..64 chars) is required"), 0);
        params_free(&p);
        return;
    }
    struct code_entry *e = codes_issue(s->codes, now_ms);
    if (!e) {
        answer_json(a, 503, "application/json",
                    json_pack("{s:s}", "error", "too many codes outstanding"), 0);
        params_free(&p);
        return;
    }
    int precision = 0;
    json_t *v = fill_entry(s, e, &p) < 0 ? NULL : issuance(s, req, e, &p, &precision);
    if (!v)
        e->used = true; /* half-issued: it can never be exchanged */
    answer_json(a, 200, "application/json", v, precision);
    params_free(&p);
}
