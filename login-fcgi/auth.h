/* auth.h -- the session check of every authenticated route: X-WX-Skey
 * (and X-WX-Id when sent) as headers or query parameters, looked up by the
 * SHA-256 of the skey. */
#ifndef LOGIN_AUTH_H
#define LOGIN_AUTH_H

#include "store.h"

#include <stdbool.h>

struct request;

enum auth_result {
    AUTH_OK = 0,
    AUTH_NONE,      /* no X-WX-Skey at all (nothing answered) */
    AUTH_ANSWERED   /* invalid session, database down...: already answered */
};

/* Check the request's session. On AUTH_OK fills *s and *u (and refreshes
 * last_seen_at at most once a minute). When `optional` and no skey was
 * sent, returns AUTH_NONE without answering; otherwise a missing, malformed,
 * unknown, expired or revoked session, or an X-WX-Id that does not match,
 * answers 401 ERR_INVALID_SESSION, and an unreachable database 503. */
enum auth_result auth_check(struct request *r, bool optional, struct store_session *s,
                            struct store_user *u);

/* Whether text is exactly 64 lower- or upper-case hex digits (an skey). */
bool auth_skey_well_formed(const char *text);

#endif
