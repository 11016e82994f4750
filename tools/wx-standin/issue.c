/* issue.c -- issuing codes with their user data, signed and encrypted. */
#include "issue.h"
#include "crypto.h"
#include "exchange.h"
#include "query.h"
#include "text.h"
#include "util.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NICK_CAP 1025   /* bytes with the NUL: login-fcgi's PROFILE_NICK_CAP */
#define AVATAR_CAP 2049 /* login-fcgi's PROFILE_AVATAR_CAP */
#define ID_CAP 129      /* openIdInPlaintext, watermarkAppid */
#define SMALL_CAP 32    /* gender, delayMs, reply and the flags */
#define DELAY_MAX_MS 120000
/* WeChat's placeholder profile, given when the user shares none. */
#define PLACEHOLDER_NAME "\xe5\xbe\xae\xe4\xbf\xa1\xe7\x94\xa8\xe6\x88\xb7" /* 微信用户 */
#define PLACEHOLDER_AVATAR                                                                         \
    "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGK"    \
    "SyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132"

/* The query parameters an issuance reads, decoded ("" when absent). */
struct issue_params {
    char user[ISSUE_USER_MAX + 1], nick[NICK_CAP], avatar[AVATAR_CAP];
    char plain_openid[ID_CAP], wm_appid[ID_CAP];
    char gender[SMALL_CAP], delay[SMALL_CAP], reply[SMALL_CAP];
    char unionid[SMALL_CAP], placeholder[SMALL_CAP];
};

/* Each parameter, where it goes and its capacity. */
#define PARAM(name, field)                                                                         \
    {                                                                                              \
        name, offsetof(struct issue_params, field), sizeof(((struct issue_params *)0)->field)      \
    }
static const struct {
    const char *name;
    size_t offset, cap;
} PARAMS[] = {
    PARAM("user", user),
    PARAM("nickName", nick),
    PARAM("avatarUrl", avatar),
    PARAM("openIdInPlaintext", plain_openid),
    PARAM("watermarkAppid", wm_appid),
    PARAM("gender", gender),
    PARAM("delayMs", delay),
    PARAM("reply", reply),
    PARAM("unionid", unionid),
    PARAM("placeholder", placeholder),
};
#undef PARAM

/* Decode every parameter of query into p. Returns NULL, or the name of the
 * first one that is malformed, too long or not UTF-8. */
static const char *params_read(const char *query, struct issue_params *p)
{
    for (size_t i = 0; i < countof(PARAMS); i++) {
        char *out = (char *)p + PARAMS[i].offset;
        long n = query_get(query, PARAMS[i].name, out, PARAMS[i].cap);
        if (n == QUERY_NOT_FOUND)
            out[0] = '\0';
        else if (n < 0 || !text_utf8_valid(out, (size_t)n))
            return PARAMS[i].name;
    }
    return NULL;
}

/* The gender parameter: 0, 1 or 2; anything else is 0 (unknown). */
static int gender_of(const struct issue_params *p)
{
    long g;
    if (strcmp(p->placeholder, "1") == 0 || text_to_long(p->gender, &g) < 0 || g < 0 || g > 2)
        return 0;
    return (int)g;
}

/* The delayMs parameter clamped to 0..DELAY_MAX_MS; not an integer: 0. */
static long delay_of(const struct issue_params *p)
{
    long d;
    if (text_to_long(p->delay, &d) < 0 || d < 0)
        return 0;
    return d > DELAY_MAX_MS ? DELAY_MAX_MS : d;
}

/* tag + the first 27 characters of base64url(sha256(a + b + user)). */
static int hashed_id(char tag, const char *a, const char *b, const char *user,
                     char out[CODE_ID_LEN + 1])
{
    struct buf text = BUF_INIT;
    unsigned char md[CRYPTO_SHA256_LEN];
    char b64[BASE64_ENCODED_LEN(CRYPTO_SHA256_LEN) + 1];
    buf_puts(&text, a);
    buf_puts(&text, b);
    buf_puts(&text, user);
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

/* The avatarUrl into out: the parameter, or by default
 * http://HOST/standin/avatar/<user>.svg, HOST from X-Forwarded-Host, Host
 * or STANDIN_LISTEN. */
static void avatar_url(struct standin *s, const struct http_req *req, const struct issue_params *p,
                       struct buf *out)
{
    struct buf host = BUF_INIT;
    if (p->avatar[0]) {
        buf_puts(out, p->avatar);
        return;
    }
    buf_puts(out, "http://");
    if ((http_req_header(req, "x-forwarded-host", true, &host) && host.len) ||
        (http_req_header(req, "host", false, &host) && host.len))
        buf_put(out, host.p, host.len);
    else
        buf_printf(out, "%s:%s", s->cfg->host, s->cfg->port);
    buf_puts(out, "/standin/avatar/");
    text_percent_encode(p->user, strlen(p->user), out);
    buf_puts(out, ".svg");
    buf_free(&host);
}

/* userInfo, in the key order of WeChat. */
static json_t *user_info(struct standin *s, const struct http_req *req,
                         const struct issue_params *p)
{
    if (strcmp(p->placeholder, "1") == 0)
        return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "nickName", PLACEHOLDER_NAME,
                         "gender", 0, "language", "zh_CN", "city", "", "province", "", "country",
                         "", "avatarUrl", PLACEHOLDER_AVATAR);
    struct buf avatar = BUF_INIT;
    avatar_url(s, req, p, &avatar);
    json_t *v =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "nickName", p->nick[0] ? p->nick : p->user,
                  "gender", gender_of(p), "language", "zh_CN", "city", "Guangzhou", "province",
                  "Guangdong", "country", "CN", "avatarUrl", buf_str(&avatar));
    buf_free(&avatar);
    return v;
}

/* {openId, ...userInfo, [unionId], watermark: {timestamp, appid}}. */
static json_t *plaintext(struct standin *s, const struct code_entry *e, const json_t *info,
                         const struct issue_params *p)
{
    const char *oid = p->plain_openid[0] ? p->plain_openid : e->openid;
    const char *wm = p->wm_appid[0] ? p->wm_appid : s->cfg->appid;
    json_t *plain = json_pack("{s:s}", "openId", oid);
    if (!plain || json_object_update(plain, (json_t *)info) < 0 ||
        (e->unionid[0] && json_object_set_new(plain, "unionId", json_string(e->unionid)) < 0) ||
        json_object_set_new(
            plain, "watermark",
            json_pack("{s:I, s:s}", "timestamp", (json_int_t)time(NULL), "appid", wm)) < 0) {
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

/* Fill the new code's entry: session_key, ids, the exchange's answer,
 * delay and reply. */
static int fill_entry(struct standin *s, struct code_entry *e, const struct issue_params *p)
{
    if (RAND_bytes(e->session_key, sizeof(e->session_key)) != 1 ||
        hashed_id('o', s->cfg->appid, ":", p->user, e->openid) < 0 ||
        (strcmp(p->unionid, "1") == 0 && hashed_id('u', "union:", "", p->user, e->unionid) < 0) ||
        exchange_session_encode(e) < 0)
        return -1;
    e->delay_ms = delay_of(p);
    if (p->reply[0])
        e->reply = xstrdup(p->reply);
    return 0;
}

/* The answer for an issued code e: builds userInfo, rawData, signature and
 * the encrypted data. Returns NULL when a step fails (never expected). */
static json_t *issuance(struct standin *s, const struct http_req *req, struct code_entry *e,
                        const struct issue_params *p)
{
    char key_b64[BASE64_ENCODED_LEN(16) + 1], iv_b64[BASE64_ENCODED_LEN(16) + 1];
    char sig[CRYPTO_SHA1_HEX_LEN + 1];
    char *raw = NULL, *plain_text = NULL, *data = NULL;
    json_t *info = user_info(s, req, p), *plain = NULL, *v = NULL;
    base64_encode(e->session_key, sizeof(e->session_key), key_b64);
    if (!info || !(raw = json_dumps(info, JSON_COMPACT)) ||
        crypto_sha1_hex2(raw, strlen(raw), key_b64, strlen(key_b64), sig) < 0 ||
        !(plain = plaintext(s, e, info, p)) || !(plain_text = json_dumps(plain, JSON_COMPACT)) ||
        encrypt(e->session_key, plain_text, strlen(plain_text), &data, iv_b64) < 0)
        goto out;
    v = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s, s:s}", "code", e->code, "openid", e->openid,
                  "userInfo", info, "rawData", raw, "signature", sig, "encryptedData", data, "iv",
                  iv_b64);
out:
    json_decref(info);
    json_decref(plain);
    free(raw);
    free(plain_text);
    free(data);
    return v;
}

/* 400 {"error": ...} for a missing or bad parameter `bad`. */
static void answer_bad_param(struct answer *a, const char *bad)
{
    if (!bad || strcmp(bad, "user") == 0)
        answer_json(a, 400, "application/json",
                    json_pack("{s:s}", "error", "user (1..64 bytes) is required"));
    else
        answer_json(a, 400, "application/json",
                    json_pack("{s:s+}", "error", bad, " is malformed or too long"));
}

void issue_code(struct standin *s, const struct http_req *req, const char *query, long long now_ms,
                struct answer *a)
{
    struct issue_params p;
    const char *bad = params_read(query, &p);
    if (bad || !p.user[0]) {
        answer_bad_param(a, bad);
        return;
    }
    struct code_entry *e = codes_issue(s->codes, now_ms);
    if (!e) {
        answer_json(a, 503, "application/json",
                    json_pack("{s:s}", "error", "too many codes outstanding"));
        return;
    }
    json_t *v = fill_entry(s, e, &p) < 0 ? NULL : issuance(s, req, e, &p);
    if (!v)
        e->used = true; /* half-issued: it can never be exchanged */
    answer_json(a, 200, "application/json", v);
}
