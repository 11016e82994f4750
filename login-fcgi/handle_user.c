/* handle_user.c -- GET|POST /user (the session's profile) and POST /logout. */
#include "handlers.h"

#include "auth.h"
#include "request.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define USER_BODY_MAX (16 * 1024)

/* 200 with the user's profile, in the request's envelope. */
static void reply_user(struct request *r, const struct store_user *u)
{
    json_t *info = profile_to_json(u->uid, &u->profile);
    json_t *body = NULL;
    if (!info)
        body = NULL;
    else if (r->envelope == ENVELOPE_WAFER2)
        body = json_pack("{s:i, s:o}", "code", 0, "data", info);
    else
        body = json_pack("{s:i, s:{s:o}}", "code", 0, "data", "userInfo", info);
    request_reply(r, 200, body);
}

static void bad_request(struct request *r, const char *message)
{
    request_note(r, "bad request: %s", message);
    request_fail(r, 400, "ERR_BAD_REQUEST", "%s", message);
}

/* Read the whole body (at most USER_BODY_MAX bytes) into a malloc'ed
 * buffer. Answers and returns NULL when it is too large or unreadable. */
static char *read_small_body(struct request *r, size_t *len)
{
    if (r->content_length > USER_BODY_MAX) {
        request_fail(r, 413, "ERR_TOO_LARGE", "the body is over %d bytes", USER_BODY_MAX);
        return NULL;
    }
    char *buf = xmalloc(USER_BODY_MAX + 1);
    size_t n = 0;
    for (;;) {
        long got = request_read(r, buf + n, USER_BODY_MAX + 1 - n);
        if (got < 0) {
            request_fail(r, 400, "ERR_BAD_REQUEST", "the body could not be read");
            break;
        }
        if (got == 0) {
            *len = n;
            return buf;
        }
        n += (size_t)got;
        if (n > USER_BODY_MAX) {
            request_fail(r, 413, "ERR_TOO_LARGE", "the body is over %d bytes", USER_BODY_MAX);
            break;
        }
    }
    free(buf);
    return NULL;
}

/* The value of an optional string member: NULL when absent, "" flagged
 * through *bad when present but not a string. */
static const char *optional_string(const json_t *obj, const char *key, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* POST /user: validate {nickName?, avatarUrl?} and store it. */
static void update_profile(struct request *r, const struct store_user *u)
{
    size_t len;
    char *text = read_small_body(r, &len);
    if (!text)
        return;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    bool bad = false;
    const char *nick = optional_string(obj, "nickName", &bad);
    const char *avatar = optional_string(obj, "avatarUrl", &bad);
    struct store_user *out = xmalloc(sizeof(*out));
    if (!json_is_object(obj))
        bad_request(r, "the body must be a JSON object {\"nickName\", \"avatarUrl\"}");
    else if (bad)
        bad_request(r, "nickName and avatarUrl must be strings");
    else if (!nick && !avatar)
        bad_request(r, "nothing to set: send nickName and/or avatarUrl");
    else if (nick && !profile_nick_valid(nick))
        bad_request(r, "nickName must be 1 to 64 characters without control characters");
    else if (avatar && !profile_avatar_valid(avatar, r->cfg->files_base_url))
        request_fail(r, 400, "ERR_BAD_REQUEST",
                     "avatarUrl must be an uploaded file under %s", r->cfg->files_base_url);
    else {
        enum store_status st = store_user_update(r->w->store, u->uid, nick, avatar, out);
        if (st == STORE_OK)
            reply_user(r, out);
        else if (st == STORE_UNAVAILABLE)
            request_fail(r, 503, "ERR_UNAVAILABLE", "the database is unavailable, try again later");
        else
            request_fail(r, 500, "ERR_INTERNAL", "the profile could not be stored");
    }
    free(out);
    json_decref(obj);
}

void handle_user(struct request *r)
{
    struct store_session s;
    struct store_user *u = xmalloc(sizeof(*u));
    if (auth_check(r, false, &s, u) == AUTH_OK) {
        if (strcmp(r->method, "POST") == 0)
            update_profile(r, u);
        else
            reply_user(r, u);
    }
    free(u);
}

void handle_logout(struct request *r)
{
    struct store_session s;
    struct store_user *u = xmalloc(sizeof(*u));
    if (auth_check(r, false, &s, u) == AUTH_OK) {
        enum store_status st = store_session_revoke(r->w->store, s.id);
        if (st == STORE_OK) {
            request_note(r, "logout: session %s revoked", s.id);
            request_reply(r, 200, json_pack("{s:i, s:s}", "code", 0, "message", "logged out"));
        } else if (st == STORE_UNAVAILABLE) {
            request_fail(r, 503, "ERR_UNAVAILABLE", "the database is unavailable, try again later");
        } else {
            request_fail(r, 500, "ERR_INTERNAL", "the session could not be revoked");
        }
    }
    free(u);
}
