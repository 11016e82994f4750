/* issue.h -- GET|POST /standin/code?user=NAME: what wx.login() and
 * wx.getUserInfo() give a mini-program for a chosen user. Issues a code
 * (kept in the code table with a fresh session_key) and answers
 * {code, openid, userInfo, rawData, signature, encryptedData, iv}:
 * rawData is the JSON of userInfo, signature sha1(rawData + session_key in
 * base64), encryptedData AES-128-CBC under the session_key of
 * {openId, ...userInfo, [unionId], watermark:{timestamp, appid}}, exactly
 * as WeChat builds them. Options (query parameters): nickName, avatarUrl,
 * gender, placeholder=1, unionid=1, delayMs, reply, watermarkAppid,
 * openIdInPlaintext (see tools/wx-standin/main.c). */
#ifndef STANDIN_ISSUE_H
#define STANDIN_ISSUE_H

#include "answer.h"
#include "http_req.h"
#include "standin.h"

#include <stddef.h>

/* Answer the request (query[0..query_len) holds its parameters; req its
 * Host and X-Forwarded-Host for the default avatar URL): 200 with the
 * issuance, 400 when user is missing or longer than 64 UTF-16 units, 503
 * when the code table is full. */
void issue_code(struct standin *s, const struct http_req *req, const char *query, size_t query_len,
                long long now_ms, struct answer *a);

#endif
