/* exchange.h -- GET /sns/jscode2session, WeChat's code-to-session
 * exchange: appid, secret and grant_type checked in that order (errcodes
 * 40013, 40125, 40002), then the code (40029 unknown or expired, 40163
 * already exchanged), answering {session_key, openid[, unionid]} as JSON
 * served as text/plain, as WeChat does. A code issued with delayMs or
 * reply=http500|garbage|errcode:N is answered that way instead (N a decimal
 * integer; a reply of any other form, "errcode:x" included, is ignored).
 * Parameters are read as query_get() reads them (in one pass over the
 * query): names case-insensitive, the first occurrence wins; a js_code
 * that is malformed or too long is an unknown code (40029), and so is a
 * malformed appid, secret or grant_type a wrong one. The JSON of a
 * successful exchange is encoded once, when the code is issued
 * (exchange_session_encode()). */
#ifndef STANDIN_EXCHANGE_H
#define STANDIN_EXCHANGE_H

#include "answer.h"
#include "standin.h"

#include <stddef.h>

/* Encode into e->session (replacing what it held) the answer to a
 * successful exchange of e: {session_key (base64), openid[, unionid]} as
 * compact JSON. Call it once e's session_key, openid and unionid are set,
 * when e is issued. Returns 0, or -1 with e->session NULL when jansson
 * fails (never expected). */
int exchange_session_encode(struct code_entry *e);

/* An exchange to answer later (the code's delayMs): what it needs then. */
struct exchange_later;

/* Start answering the exchange with the query query[0..len) (without '?';
 * borrowed, no NUL in it). Returns 0 with the answer in a, or the delay in
 * ms (> 0) with *later set: call exchange_finish() when it has passed. */
long exchange_start(struct standin *s, const char *query, size_t len, long long now_ms,
                    struct answer *a, struct exchange_later **later);

/* Answer a delayed exchange now (the code may have been used or forgotten
 * meanwhile). Does not free `later`. */
void exchange_finish(struct standin *s, const struct exchange_later *later, long long now_ms,
                     struct answer *a);

/* Free a delayed exchange (NULL is fine). */
void exchange_later_free(struct exchange_later *later);

#endif
