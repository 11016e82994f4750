/* routes.h -- which handler answers a request, by method and the exact
 * path of its target (url.h: before '?', not decoded or normalised):
 *   GET /sns/jscode2session           exchange.h
 *   GET|POST /standin/code            issue.h
 *   GET /standin/avatar/NAME.svg      avatar.h (NAME 1..200 bytes as sent)
 *   any /standin/healthz              200 {"ok":true}
 *   anything else                     404 {"errcode":-1,"errmsg":"not found"} */
#ifndef STANDIN_ROUTES_H
#define STANDIN_ROUTES_H

#include "answer.h"
#include "exchange.h"
#include "http_req.h"
#include "standin.h"

/* Answer req. Returns 0 with the answer in a, or a delay in ms (> 0) with
 * *later set: the answer is exchange_finish(*later) once it has passed. */
long routes_handle(struct standin *s, const struct http_req *req, long long now_ms,
                   struct answer *a, struct exchange_later **later);

#endif
