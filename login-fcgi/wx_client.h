/* wx_client.h -- exchanging a wx.login() code at WeChat's jscode2session.
 *
 * One client per worker: it owns a reused CURL handle (keep-alive, TLS
 * verified, connect and total timeouts, http/https only, no signals) on a
 * multi handle of its own; wx_exchange() must run in a worker coroutine,
 * since it waits on the event loop.
 * The answer parser is a pure function so unit tests need no network. The
 * app secret appears only in the request target and is never logged. */
#ifndef LOGIN_WX_CLIENT_H
#define LOGIN_WX_CLIENT_H

#include <stddef.h>

struct settings;
struct wx_client;

enum wx_status {
    WX_OK = 0,
    WX_REFUSED,     /* WeChat answered errcode != 0 (401, or 502 for -1 "busy") */
    WX_UNREACHABLE, /* connection failed (502) */
    WX_HTTP_ERROR,  /* non-200 HTTP status (502) */
    WX_BAD_ANSWER,  /* not JSON, or fields missing or of the wrong type (502) */
    WX_TIMEOUT      /* connect or total timeout (504) */
};

struct wx_session {
    enum wx_status status;
    long errcode;         /* WX_REFUSED: WeChat's errcode */
    char errmsg[128];     /* WX_REFUSED: WeChat's errmsg; otherwise a reason */
    char openid[129];     /* WX_OK */
    char unionid[129];    /* WX_OK: empty when WeChat sent none */
    char session_key[64]; /* WX_OK: base64 of 16 bytes; secret, never logged */
};

/* Parse the body of a jscode2session answer into *out (status WX_OK,
 * WX_REFUSED or WX_BAD_ANSWER, which it also returns). openid must be a
 * 1..128 character string, session_key base64 of 16 bytes, unionid (optional)
 * a string of at most 128 characters. */
enum wx_status wx_parse_answer(const char *body, size_t len, struct wx_session *out);

/* The start of every jscode2session request target: the path of `base`
 * (a URL such as https://api.weixin.qq.com), then the query up to the code,
 * appid and secret escaped with curl_easy_escape: "/sns/jscode2session?
 * appid=…&secret=…&js_code=". malloc'ed (caller frees; it holds the
 * secret), or NULL when base is not a URL or memory ran out. `curl` is any
 * CURL handle (used for escaping). */
char *wx_target_prefix(void *curl, const char *base, const char *appid, const char *secret);

/* The request target for `code`: prefix, the code escaped, then
 * "&grant_type=authorization_code". malloc'ed (caller frees), or NULL. */
char *wx_request_target(void *curl, const char *prefix, const char *code);

/* Create a client for cfg (borrowed; must outlive the client). Returns NULL
 * if libcurl cannot create a handle. curl_global_init() must have run. */
struct wx_client *wx_client_new(const struct settings *cfg);

/* Free the client and its CURL handle (NULL is fine). */
void wx_client_free(struct wx_client *c);

/* Exchange `code`; fills *out and returns its status. `tag` names the
 * request in log lines. */
enum wx_status wx_exchange(struct wx_client *c, const char *code, const char *tag,
                           struct wx_session *out);

/* The HTTP status a login answers for a failed exchange. */
int wx_http_status(const struct wx_session *s);

#endif
