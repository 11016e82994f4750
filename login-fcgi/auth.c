/* auth.c -- session check by skey hash. */
#include "auth.h"

#include "crypto.h"
#include "log.h"
#include "params.h"
#include "request.h"

#include <ctype.h>
#include <string.h>

#define SKEY_HEX_LEN 64
#define SESSION_ID_MAX 64

bool auth_skey_well_formed(const char *text)
{
    size_t n = 0;
    for (; text[n]; n++)
        if (!isxdigit((unsigned char)text[n]))
            return false;
    return n == SKEY_HEX_LEN;
}

static enum auth_result invalid(struct request *r, const char *why)
{
    request_note(r, "invalid session: %s", why);
    request_fail(r, 401, "ERR_INVALID_SESSION", "%s", why);
    return AUTH_ANSWERED;
}

/* Answer for a failed store call. */
static enum auth_result store_failed(struct request *r, enum store_status st)
{
    if (st == STORE_UNAVAILABLE)
        request_fail(r, 503, "ERR_UNAVAILABLE", "the database is unavailable, try again later");
    else
        request_fail(r, 500, "ERR_INTERNAL", "the session could not be checked");
    return AUTH_ANSWERED;
}

enum auth_result auth_check(struct request *r, bool optional, struct store_session *s,
                            struct store_user *u)
{
    char skey[SKEY_HEX_LEN + 2], id[SESSION_ID_MAX + 1];
    long n = param_get(request_envp(r), r->query, "X-WX-Skey", skey, sizeof(skey));
    if (n == PARAM_MISSING && optional)
        return AUTH_NONE;
    if (n == PARAM_MISSING)
        return invalid(r, "no session: log in first (X-WX-Skey missing)");
    if (n < 0 || !auth_skey_well_formed(skey))
        return invalid(r, "malformed session key");
    long idn = param_get(request_envp(r), r->query, "X-WX-Id", id, sizeof(id));
    if (idn != PARAM_MISSING && idn < 0)
        return invalid(r, "malformed session id");
    for (char *p = skey; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    unsigned char hash[CRYPTO_SHA256_LEN];
    if (crypto_sha256(skey, SKEY_HEX_LEN, hash) < 0) {
        request_fail(r, 500, "ERR_INTERNAL", "the session could not be checked");
        return AUTH_ANSWERED;
    }
    enum store_status st = store_session_find(r->w->store, hash, s, u);
    if (st == STORE_NOT_FOUND)
        return invalid(r, "session unknown, expired or revoked: log in again");
    if (st != STORE_OK)
        return store_failed(r, st);
    if (idn > 0 && !crypto_equal_str(id, s->id))
        return invalid(r, "X-WX-Id does not match the session");
    if (s->touch_due && store_session_touch(r->w->store, s->id) != STORE_OK)
        log_warn("%s session %s: last_seen_at not updated", r->tag, s->id);
    return AUTH_OK;
}
