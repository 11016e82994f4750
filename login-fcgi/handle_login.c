/* handle_login.c -- GET|POST /login and /weapp/login: exchange the code at
 * WeChat, verify the optional user data, upsert the user, open a session. */
#include "handlers.h"

#include "auth.h"
#include "crypto.h"
#include "json_util.h"
#include "log.h"
#include "login_group.h"
#include "params.h"
#include "request.h"
#include "settings.h"
#include "store.h"
#include "userdata.h"
#include "util.h"
#include "wx_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Length limits of the login parameters (bytes of the decoded value). */
#define CODE_MAX 128
#define ENCRYPTED_MAX (16 * 1024)
#define IV_MAX 64
#define RAW_MAX (8 * 1024)
#define SIGNATURE_MAX 64

struct login_input {
    char code[CODE_MAX + 1];
    char encrypted[ENCRYPTED_MAX + 1];
    char iv[IV_MAX + 1];
    char raw[RAW_MAX + 1];
    char signature[SIGNATURE_MAX + 1];
    bool has_code, has_encrypted, has_iv, has_raw, has_signature;
};

/* A login_input with every parameter absent. Not zeroed (25 KiB per login):
 * read_input() sets every flag, and a field is read only when its flag is. */
static struct login_input *login_input_new(void)
{
    struct login_input *in = xmalloc(sizeof(*in));
    in->code[0] = in->encrypted[0] = in->iv[0] = in->raw[0] = in->signature[0] = '\0';
    in->has_code = in->has_encrypted = in->has_iv = in->has_raw = in->has_signature = false;
    return in;
}

static void login_fail(struct request *r, int status, const char *message)
{
    request_note(r, "login failed: %s", message);
    request_fail(r, status, "ERR_LOGIN_FAILED", "%s", message);
}

/* Read one parameter; answers 400 and returns -1 when it is too long or
 * malformed. */
static int read_param(struct request *r, const char *name, char *out, size_t cap, bool *present)
{
    long n = param_get(request_envp(r), r->query, name, out, cap);
    *present = n > 0;
    if (n == PARAM_TOO_LONG) {
        request_fail(r, 400, "ERR_LOGIN_FAILED", "%s is longer than %zu bytes", name, cap - 1);
        return -1;
    }
    if (n == PARAM_MALFORMED) {
        request_fail(r, 400, "ERR_LOGIN_FAILED", "%s is not a valid query parameter", name);
        return -1;
    }
    return 0;
}

/* All parameters, checked as far as possible before the code is spent. */
static int read_input(struct request *r, struct login_input *in)
{
    if (read_param(r, "X-WX-Code", in->code, sizeof(in->code), &in->has_code) < 0 ||
        read_param(r, "X-WX-Encrypted-Data", in->encrypted, sizeof(in->encrypted),
                   &in->has_encrypted) < 0 ||
        read_param(r, "X-WX-IV", in->iv, sizeof(in->iv), &in->has_iv) < 0 ||
        read_param(r, "X-WX-Raw-Data", in->raw, sizeof(in->raw), &in->has_raw) < 0 ||
        read_param(r, "X-WX-Signature", in->signature, sizeof(in->signature),
                   &in->has_signature) < 0)
        return -1;
    if (in->has_encrypted != in->has_iv) {
        login_fail(r, 400, "X-WX-Encrypted-Data and X-WX-IV must be sent together");
        return -1;
    }
    if (in->has_raw != in->has_signature) {
        login_fail(r, 400, "X-WX-Raw-Data and X-WX-Signature must be sent together");
        return -1;
    }
    if (in->has_encrypted) {
        enum userdata_status st = userdata_precheck(in->encrypted, in->iv);
        if (st != USERDATA_OK) {
            login_fail(r, userdata_http_status(st), userdata_message(st));
            return -1;
        }
    }
    return 0;
}

/* No code: a valid session answers "already logged in". */
static void login_without_code(struct request *r)
{
    struct store_session s;
    struct store_user u;
    enum auth_result a = auth_check(r, true, &s, &u);
    if (a == AUTH_ANSWERED)
        return;
    if (a == AUTH_NONE) {
        login_fail(r, 400, "X-WX-Code is missing");
        return;
    }
    json_t *body = json_pack("{s:i, s:s}", "code", 0, "message", "already logged in");
    if (r->envelope == ENVELOPE_WAFER2)
        json_object_set_new(body, "data",
                            json_pack("{s:o}", "userinfo", profile_to_json(u.uid, &u.profile)));
    request_reply(r, 200, body);
}

/* Answer a failed exchange. */
static void exchange_failed(struct request *r, const struct wx_session *wx)
{
    int status = wx_http_status(wx);
    const char *what = wx->status == WX_TIMEOUT  ? "WeChat timed out"
                       : wx->status == WX_REFUSED ? "WeChat refused the code"
                                                  : "WeChat could not be asked";
    json_t *body;
    if (wx->status == WX_REFUSED) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s (errcode %ld: %s)", what, wx->errcode, wx->errmsg);
        body = reply_error_body(r->envelope, "ERR_LOGIN_FAILED", msg);
        json_object_set_new(body, "wxErrcode", json_integer(wx->errcode));
        request_note(r, "login failed: %s", msg);
    } else {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: %s", what, wx->errmsg);
        body = reply_error_body(r->envelope, "ERR_LOGIN_FAILED", msg);
        log_warn("%s login failed (%d): %s", r->tag, status, msg);
    }
    request_reply(r, status, body);
}

/* Verify the signature and decrypt the user data. Fills *incoming (and
 * sets *has_profile) and may fill unionid. Answers and returns -1 on failure. */
static int verify_user_data(struct request *r, const struct login_input *in,
                            const struct wx_session *wx, struct profile *incoming,
                            bool *has_profile, char *unionid, size_t unionid_cap)
{
    *has_profile = false;
    if (in->has_raw && !userdata_signature_ok(in->raw, wx->session_key, in->signature)) {
        login_fail(r, 401, userdata_message(USERDATA_BAD_SIGNATURE));
        return -1;
    }
    json_t *info = NULL;
    if (in->has_encrypted) {
        enum userdata_status st = userdata_decrypt(wx->session_key, in->encrypted, in->iv,
                                                   r->cfg->wx_appid, wx->openid, &info);
        if (st != USERDATA_OK) {
            login_fail(r, userdata_http_status(st), userdata_message(st));
            return -1;
        }
        const char *uid = json_string_field(info, "unionId", 128);
        if (uid && *uid && !unionid[0])
            snprintf(unionid, unionid_cap, "%s", uid);
    } else if (in->has_raw) {
        info = json_loads(in->raw, JSON_REJECT_DUPLICATES, NULL); /* signed, so trusted */
    }
    if (json_is_object(info)) {
        profile_from_json(info, incoming);
        *has_profile = true;
    }
    json_decref(info);
    return 0;
}

/* The success answer of either envelope. */
static json_t *login_body(const struct request *r, const char *session_id, const char *skey,
                          const struct store_user *u)
{
    json_t *info = profile_to_json(u->uid, &u->profile);
    if (!info)
        return NULL;
    if (r->envelope == ENVELOPE_WAFER2)
        return json_pack("{s:i, s:{s:o, s:s, s:I}}", "code", 0, "data", "userinfo", info, "skey",
                         skey, "time", (json_int_t)time(NULL));
    return json_pack("{s:i, s:{s:s, s:s}, s:o}", WAFER_MAGIC, 1, "session", "id", session_id,
                     "skey", skey, "userInfo", info);
}

/* A new session: its id (16 random bytes in hex), its skey (32) and the
 * skey's SHA-256, the only form stored. The random bytes come from one
 * call, since OpenSSL's CSPRNG costs per call. */
static int new_session_keys(char session_id[33], char skey[65],
                            unsigned char hash[CRYPTO_SHA256_LEN])
{
    char random[2 * (16 + 32) + 1];
    if (crypto_random_hex(random, 16 + 32) < 0)
        return -1;
    memcpy(session_id, random, 32);
    session_id[32] = '\0';
    memcpy(skey, random + 32, 64);
    skey[64] = '\0';
    explicit_bzero(random, sizeof(random));
    return crypto_sha256(skey, 64, hash);
}

/* Create the session and the user row; answer. */
static void open_session(struct request *r, const struct wx_session *wx, const char *unionid,
                         const struct profile *incoming)
{
    char session_id[33], skey[65];
    unsigned char hash[CRYPTO_SHA256_LEN];
    if (new_session_keys(session_id, skey, hash) < 0) {
        log_error("%s the CSPRNG or SHA-256 failed", r->tag);
        request_fail(r, 500, "ERR_INTERNAL", "could not create a session");
        return;
    }
    struct store_login in = {.openid = wx->openid, .unionid = unionid, .incoming = incoming,
                             .session_id = session_id, .skey_hash = hash,
                             .wx_session_key = wx->session_key, .ttl_ms = r->cfg->session_ttl_ms};
    struct store_user *u = xmalloc(sizeof(*u));
    enum store_status st = login_group_store(r->w->logins, &in, u);
    if (st == STORE_OK) {
        request_note(r, "login: uid %lld, session %s", u->uid, session_id);
        request_reply(r, 200, login_body(r, session_id, skey, u));
    } else if (st == STORE_UNAVAILABLE) {
        login_fail(r, 503, "the database is unavailable, try again later");
    } else {
        request_fail(r, 500, "ERR_INTERNAL", "the login could not be stored");
    }
    memset(skey, 0, sizeof(skey));
    free(u);
}

void handle_login(struct request *r)
{
    struct login_input *in = login_input_new();
    struct wx_session *wx = xcalloc(1, sizeof(*wx));
    /* Not zeroed (6 KiB): read only after profile_from_json() set every field. */
    struct profile *incoming = xmalloc(sizeof(*incoming));
    char unionid[129] = "";
    bool has_profile;
    if (read_input(r, in) < 0)
        goto done;
    if (!in->has_code) {
        login_without_code(r);
        goto done;
    }
    /* Do not spend the code when the login could not be stored anyway. */
    if (store_connect(r->w->store) != STORE_OK) {
        login_fail(r, 503, "the database is unavailable, try again later");
        goto done;
    }
    if (wx_exchange(r->w->wx, in->code, r->tag, wx) != WX_OK) {
        exchange_failed(r, wx);
        goto done;
    }
    snprintf(unionid, sizeof(unionid), "%s", wx->unionid);
    if (verify_user_data(r, in, wx, incoming, &has_profile, unionid, sizeof(unionid)) < 0)
        goto done;
    open_session(r, wx, unionid, has_profile ? incoming : NULL);
done:
    memset(wx, 0, sizeof(*wx));
    free(wx);
    free(incoming);
    free(in);
}
