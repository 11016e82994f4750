/* issue.h -- GET|POST /standin/code?user=NAME: what wx.login() and
 * wx.getUserInfo() give a mini-program for a chosen user. Issues a code
 * (kept in the code table with a fresh session_key) and answers
 * {code, openid, userInfo, rawData, signature, encryptedData, iv}:
 * rawData is the JSON of userInfo, signature sha1(rawData + session_key in
 * base64), encryptedData AES-128-CBC under the session_key of
 * {openId, ...userInfo, [unionId], watermark:{timestamp, appid}}, exactly
 * as WeChat builds them. Options (query parameters, read with query_get():
 * names case-insensitive, '+' and %XX decoded): nickName, avatarUrl,
 * gender, placeholder=1, unionid=1, delayMs, reply, watermarkAppid,
 * openIdInPlaintext (see tools/wx-standin/main.c). A value given as ""
 * counts as absent. gender and delayMs are decimal integers: a gender
 * other than 0, 1 or 2 is 0 (unknown), delayMs is clamped to 0..120000,
 * and either one that is not an integer counts as 0. */
#ifndef STANDIN_ISSUE_H
#define STANDIN_ISSUE_H

#include "answer.h"
#include "http_req.h"
#include "standin.h"

#include <stddef.h>

/* Longest user name, in bytes. */
#define ISSUE_USER_MAX 64

/* Answer the request (query, NUL-terminated and without '?', holds its
 * parameters; req its Host and X-Forwarded-Host for the default avatar
 * URL): 200 with the issuance; 400 {"error": ...} when user is missing or
 * longer than ISSUE_USER_MAX bytes, or a parameter has a malformed
 * %-escape, a NUL, invalid UTF-8 or is longer than its limit (nickName
 * 1024 bytes, avatarUrl 2048, as login-fcgi/profile.h keeps them;
 * openIdInPlaintext and watermarkAppid 128; the others 31); 503 when the
 * code table is full. */
void issue_code(struct standin *s, const struct http_req *req, const char *query, long long now_ms,
                struct answer *a);

#endif
