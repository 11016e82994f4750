/* main.c -- wx-standin: a stand-in for WeChat's servers, for tests, local
 * runs and the benchmark (WeChat cannot be reached from here).
 *
 * It answers GET /sns/jscode2session the way api.weixin.qq.com does (JSON
 * served as text/plain; errcode 40029 for an unknown or expired code, 40163
 * for a code used twice, 40125 for a wrong secret, 40013 for a wrong appid,
 * 40002 for a wrong grant_type), and lets a test or a person obtain what
 * wx.login() and wx.getUserInfo() would give a mini-program for a chosen
 * user:
 *
 *   GET|POST /standin/code?user=NAME (1..64 bytes)[&nickName=..][&avatarUrl=..][&gender=0|1|2]
 *       [&placeholder=1]        WeChat's modern placeholder profile
 *       [&unionid=1]            include a unionId
 *       [&delayMs=N]            answer the exchange of this code after N ms (at most 120000)
 *       [&reply=http500|garbage|errcode:N]   answer the exchange with that failure
 *                               (N a decimal integer; other replies are ignored)
 *       [&watermarkAppid=X] [&openIdInPlaintext=X]   tamper with the encrypted data
 *   => {"code", "openid", "userInfo", "rawData", "signature", "encryptedData", "iv"}
 *
 * encryptedData is AES-128-CBC with the code's session_key, rawData is
 * signed with sha1(rawData + session_key), exactly as WeChat does, so the
 * login service's whole cryptographic path runs for real. The session_key
 * itself is never handed out, as with WeChat. Codes are forgotten five
 * minutes after issue.
 *
 *   GET /standin/avatar/NAME.svg   a generated avatar (no network needed)
 *   GET /standin/healthz           {"ok":true}
 *
 * Environment: STANDIN_LISTEN (host:port, default 127.0.0.1:9911), WX_APPID,
 * WX_SECRET, LOG_LEVEL. Prints "wx-standin listening on HOST:PORT
 * appid=APPID" once listening; exits 0 on SIGTERM or SIGINT. Routes match
 * the exact path; parameters are read with shared/query.h (limits and
 * number rules in issue.h and exchange.h). HTTP/1.1 keep-alive, one
 * thread, epoll. */
#include "codes.h"
#include "log.h"
#include "server.h"
#include "settings.h"
#include "standin.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    (void)argv;
    log_init("wx-standin", getenv("LOG_LEVEL"));
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error, not a death */
    if (argc > 1) {
        fprintf(stderr, "usage: wx-standin (configured by STANDIN_LISTEN, WX_APPID, WX_SECRET)\n");
        return 2;
    }
    struct settings cfg;
    char err[256];
    if (settings_load(&cfg, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    struct standin app = {.cfg = &cfg, .codes = codes_create()};
    struct server srv;
    int rc = 1;
    if (server_open(&srv, &app, err, sizeof(err)) < 0) {
        log_error("cannot listen: %s", err);
    } else {
        if (printf("wx-standin listening on %s:%s appid=%s\n", cfg.host, cfg.port, cfg.appid) < 0 ||
            fflush(stdout) != 0)
            log_warn("cannot write to standard output: %s", strerror(errno));
        rc = server_run(&srv) < 0 ? 1 : 0;
        server_close(&srv);
    }
    codes_free(app.codes);
    settings_free(&cfg);
    return rc;
}
