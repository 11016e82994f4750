/* store.h -- all of login-fcgi's SQL: users, sessions, the health check.
 *
 * One store per worker, and one per login batch that may run at once
 * (login_group.h), each owning one PostgreSQL connection that is
 * (re)opened on demand. Its calls must run in a worker coroutine: they
 * wait on the event loop (pg_wait.h). When the database is down a call
 * fails fast with STORE_UNAVAILABLE, and the next call tries to connect
 * again. Queries are parameterised; PGresult values never leave store.c. */
#ifndef LOGIN_STORE_H
#define LOGIN_STORE_H

#include "crypto.h"
#include "profile.h"

#include <stdbool.h>

enum store_status {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1,    /* no such (live) row */
    STORE_UNAVAILABLE = -1, /* cannot reach the database (answer 503) */
    STORE_FAILED = -2       /* the query failed otherwise (logged; answer 500) */
};

struct store;

struct store_user {
    long long uid;
    struct profile profile;
};

struct store_session {
    char id[33];    /* public session id (X-WX-Id) */
    bool touch_due; /* last_seen_at is more than a minute old */
};

/* What a successful login stores. */
struct store_login {
    const char *openid;
    const char *unionid;            /* NULL or "" when WeChat sent none */
    const struct profile *incoming; /* NULL for a code-only login */
    const char *session_id;         /* 32 hex characters */
    const unsigned char *skey_hash; /* CRYPTO_SHA256_LEN bytes */
    const char *wx_session_key;     /* stored for the session; secret */
    long long ttl_ms;
};

/* A store for `url` (copied), named `name` in its log lines (truncated
 * to 15 bytes). Connects lazily. */
struct store *store_new(const char *url, const char *name);

/* Close the connection and free the store (NULL is fine). */
void store_free(struct store *st);

/* Make sure the connection is open (connecting if needed, with a 2 s
 * timeout). Returns STORE_OK or STORE_UNAVAILABLE. */
enum store_status store_connect(struct store *st);

/* Health check: SELECT 1. */
enum store_status store_ping(struct store *st);

/* One login of a batch: what to store, and how it went. */
struct store_login_job {
    const struct store_login *in;
    struct store_user *out;  /* the stored user, when status is STORE_OK */
    enum store_status status;
};

/* Store n logins in one statement (one round trip, one transaction). For
 * each: find or create the user by openid (storing unionid when given),
 * merge the incoming profile by the rule of profile_merge()
 * (profile_weak_fields() applied in SQL), and create the session. The
 * openids must all differ (one statement cannot update a row twice). The
 * transaction commits with synchronous_commit off (docs/login.md: a crash
 * may lose the last fraction of a second of logins, never a later durable
 * write). Sets every job's status: STORE_OK with *out filled,
 * STORE_UNAVAILABLE when the database cannot be reached, STORE_FAILED when
 * it refused the login. When the statement fails for another reason than a
 * lost connection and n > 1, each login is tried again alone, so that one
 * bad login fails alone. Returns how many were stored. */
size_t store_login_batch(struct store *st, struct store_login_job *jobs, size_t n);

/* The live (not expired, not revoked) session whose skey hashes to
 * skey_hash, and its user. STORE_NOT_FOUND when there is none. */
enum store_status store_session_find(struct store *st, const unsigned char *skey_hash,
                                     struct store_session *s, struct store_user *u);

/* Set last_seen_at = now() when it is over a minute old. */
enum store_status store_session_touch(struct store *st, const char *session_id);

/* Revoke the session (revoked_at = now(), if not yet revoked). */
enum store_status store_session_revoke(struct store *st, const char *session_id);

/* Set the nickname and/or avatar (NULL: unchanged) of user uid and fill
 * *out with the result. STORE_NOT_FOUND when the user does not exist. */
enum store_status store_user_update(struct store *st, long long uid, const char *nick,
                                    const char *avatar, struct store_user *out);

#endif
