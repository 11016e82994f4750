/* selftest.c -- known-answer checks of the load generator's pure modules. */
#include "selftest.h"

#include "chatscan.h"
#include "hist.h"
#include "httpresp.h"
#include "proccpu.h"
#include "util.h"
#include "wsframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "selftest: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                          \
    } while (0)

/* RFC 6455 section 5.7 examples and the limits of the parser. */
static void test_frames(void)
{
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t hello[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t out[300];
    CHECK(ws_frame_encode(out, sizeof out, WS_OP_TEXT, "Hello", 5, mask) == sizeof masked_hello);
    CHECK(memcmp(out, masked_hello, sizeof masked_hello) == 0);
    CHECK(ws_frame_encode(out, 10, WS_OP_TEXT, "Hello", 5, mask) == 0);
    struct ws_frame f;
    CHECK(ws_frame_parse(hello, sizeof hello, 1000, &f) == 1);
    CHECK(f.fin && f.opcode == WS_OP_TEXT && f.len == 5 && memcmp(f.payload, "Hello", 5) == 0);
    CHECK(f.frame_len == sizeof hello);
    CHECK(ws_frame_parse(hello, 4, 1000, &f) == 0);
    CHECK(ws_frame_parse(masked_hello, sizeof masked_hello, 1000, &f) == -1);
    CHECK(ws_frame_parse(hello, sizeof hello, 4, &f) == -1);
    uint8_t big[4 + 200] = {0x81, 126, 0, 200};
    CHECK(ws_frame_parse(big, 100, 1000, &f) == 0);
    CHECK(ws_frame_parse(big, sizeof big, 1000, &f) == 1 && f.len == 200 && f.frame_len == 204);
    uint8_t bigping[4] = {0x89, 126, 0, 200};
    CHECK(ws_frame_parse(bigping, sizeof bigping, 1000, &f) == -1);
    uint8_t rsv[2] = {0xC1, 0};
    CHECK(ws_frame_parse(rsv, 2, 1000, &f) == -1);
    uint8_t payload[200];
    memset(payload, 'x', sizeof payload);
    size_t n = ws_frame_encode(out, sizeof out, WS_OP_TEXT, payload, 200, mask);
    CHECK(n == 208 && out[1] == (0x80 | 126) && out[2] == 0 && out[3] == 200);
    CHECK((out[8] ^ mask[0]) == 'x' && (out[207] ^ mask[3]) == 'x');
}

static void test_accept(void)
{
    char acc[WS_ACCEPT_LEN + 1], key[WS_KEY_LEN + 1];
    CHECK(ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", acc) == 0);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    uint8_t nonce[16];
    memcpy(nonce, "the sample nonce", 16);
    ws_key_make(nonce, key);
    CHECK(strcmp(key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
}

static void test_http(void)
{
    const char *cl = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
                     "Connection: keep-alive\r\n\r\n{\"a\":1}";
    struct http_head h;
    char body[64];
    size_t blen, used;
    CHECK(http_head_parse(cl, 20, &h) == 0);
    CHECK(http_head_parse(cl, strlen(cl), &h) == 1);
    CHECK(h.status == 200 && h.content_length == 7 && !h.chunked && !h.close);
    CHECK(http_body_parse(cl, strlen(cl) - 1, &h, body, sizeof body, &blen, &used) == 0);
    CHECK(http_body_parse(cl, strlen(cl), &h, body, sizeof body, &blen, &used) == 1);
    CHECK(blen == 7 && strcmp(body, "{\"a\":1}") == 0 && used == strlen(cl));
    CHECK(http_body_parse(cl, strlen(cl), &h, body, 7, &blen, &used) == -1);

    const char *ch =
        "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        "\r\n4\r\n{\"b\"\r\n3;x=y\r\n:2}\r\n0\r\n\r\n";
    CHECK(http_head_parse(ch, strlen(ch), &h) == 1 && h.status == 401 && h.chunked && h.close);
    CHECK(http_body_parse(ch, strlen(ch) - 3, &h, body, sizeof body, &blen, &used) == 0);
    CHECK(http_body_parse(ch, strlen(ch), &h, body, sizeof body, &blen, &used) == 1);
    CHECK(blen == 7 && strcmp(body, "{\"b\":2}") == 0 && used == strlen(ch));
    const char *badch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    CHECK(http_head_parse(badch, strlen(badch), &h) == 1);
    CHECK(http_body_parse(badch, strlen(badch), &h, body, sizeof body, &blen, &used) == -1);

    const char *up = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n\x81\x01";
    const char *v;
    size_t vlen;
    CHECK(http_head_parse(up, strlen(up), &h) == 1 && h.status == 101);
    CHECK(h.head_len == strlen(up) - 2);
    CHECK(http_head_find(up, &h, "sec-websocket-accept", &v, &vlen) == 1);
    CHECK(vlen == 28 && memcmp(v, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28) == 0);
    CHECK(http_head_find(up, &h, "sec-websocket", &v, &vlen) == 0);
    CHECK(http_head_parse("HTTP/1.1 2x0 OK\r\n\r\n", 19, &h) == -1);
    CHECK(http_head_parse("SSH-2.0 hello\r\n\r\n", 17, &h) == -1);
}

/* Frames shaped as the relay sends them (PROTOCOL.md section 2). */
static void test_scan(void)
{
    struct chat_frame f;
    char msg[128], frame[512];
    size_t n = chat_message_format(msg, sizeof msg, 123456789012LL, 7, 42);
    CHECK(n > 0 && strcmp(msg, "{\"text\":true,\"content\":\"t=123456789012 s=7 k=42\"}") == 0);
    CHECK(chat_message_format(msg, 20, 1, 2, 3) == 0);
    snprintf(frame, sizeof frame,
             "{\"type\":\"remote\",\"id\":1234,\"number\":17,\"room\":\"lobby\",\"uid\":42,"
             "\"nickName\":\"b\",\"avatarUrl\":\"\",\"time\":1764000000000,\"text\":true,"
             "\"content\":\"t=123456789012 s=7 k=42\"}");
    chat_frame_scan(frame, strlen(frame), &f);
    CHECK(f.kind == FRAME_CHAT && f.id == 1234 && f.t_ns == 123456789012LL && f.sender == 7);
    CHECK(f.k == 42 && !f.own);
    /* the relay's layout (fast path): own echo, a history replay with a cid,
     * and a name that quotes a content key (escaped, so not a match) */
    const char *lay_own = "{\"type\":\"user\",\"id\":8,\"nickName\":\"x\",\"text\":true,"
                          "\"content\":\"t=11 s=2 k=3\",\"cid\":\"c1\"}";
    chat_frame_scan(lay_own, strlen(lay_own), &f);
    CHECK(f.kind == FRAME_CHAT && f.own && f.id == 8 && f.t_ns == 11 && f.sender == 2 && f.k == 3);
    const char *lay_hist = "{\"type\":\"remote\",\"id\":6,\"text\":true,"
                           "\"content\":\"t=1 s=2 k=3\",\"cid\":\"c\",\"history\":true}";
    chat_frame_scan(lay_hist, strlen(lay_hist), &f);
    CHECK(f.kind == FRAME_HISTORY && f.id == 6 && !f.own);
    const char *lay_quote = "{\"type\":\"remote\",\"id\":5,\"nickName\":\"\\\"content\\\":\\\"t=9 s=9 k=9\","
                            "\"content\":\"t=1 s=2 k=3\"}";
    chat_frame_scan(lay_quote, strlen(lay_quote), &f);
    CHECK(f.kind == FRAME_CHAT && f.id == 5 && f.t_ns == 1 && f.sender == 2 && f.k == 3);
    const char *lay_extra = "{\"type\":\"remote\",\"id\":5,\"content\":\"t=1 s=2 k=3 x\"}";
    chat_frame_scan(lay_extra, strlen(lay_extra), &f);
    CHECK(f.kind == FRAME_BAD);
    const char *own = "{\"content\":\"t=5 s=1 k=0\",\"uid\":9,\"id\":77,\"type\":\"user\"}";
    chat_frame_scan(own, strlen(own), &f);
    CHECK(f.kind == FRAME_CHAT && f.own && f.id == 77 && f.sender == 1 && f.k == 0);
    const char *esc = "{ \"nickName\" : \"a\\\"b\\\\\", \"type\":\"remote\", \"id\" : 9 ,"
                      "\"content\":\"t=1 s=2 k=3\",\"time\":1}";
    chat_frame_scan(esc, strlen(esc), &f);
    CHECK(f.kind == FRAME_CHAT && f.id == 9 && f.t_ns == 1 && f.sender == 2 && f.k == 3);
    const char *badid = "{\"type\":\"remote\",\"id\":9x,\"content\":\"t=1 s=2 k=3\"}";
    chat_frame_scan(badid, strlen(badid), &f);
    CHECK(f.kind == FRAME_BAD);
    const char *hist =
        "{\"type\":\"remote\",\"id\":3,\"content\":\"t=5 s=1 k=0\",\"history\":true}";
    chat_frame_scan(hist, strlen(hist), &f);
    CHECK(f.kind == FRAME_HISTORY && f.id == 3);
    const char *trunc = "{\"type\":\"remote\",\"id\":3,\"content\":\"t=5 s=1 k=";
    chat_frame_scan(trunc, strlen(trunc), &f);
    CHECK(f.kind == FRAME_BAD);
    const char *sys = "{\"type\":\"system\",\"num\":3,\"room\":\"r\",\"seq\":99,\"epoch\":\"e\"}";
    chat_frame_scan(sys, strlen(sys), &f);
    CHECK(f.kind == FRAME_SYSTEM && f.seq == 99);
    const char *pres = "{\"type\":\"system\",\"num\":4,\"room\":\"r\",\"event\":\"join\"}";
    chat_frame_scan(pres, strlen(pres), &f);
    CHECK(f.kind == FRAME_PRESENCE);
    const char *err = "{\"type\":\"error\",\"error\":\"ERR_RATE_LIMITED\",\"message\":\"slow\"}";
    chat_frame_scan(err, strlen(err), &f);
    CHECK(f.kind == FRAME_ERROR && strcmp(f.error, "ERR_RATE_LIMITED") == 0);
    const char *inv =
        "{\"F2C224D4-2BCE-4C64-AF9F-A6D872000D1A\":1,\"error\":\"ERR_INVALID_SESSION\"}";
    chat_frame_scan(inv, strlen(inv), &f);
    CHECK(f.kind == FRAME_INVALID_SESSION);
    const char *other = "{\"type\":\"remote\",\"id\":5,\"text\":true,\"content\":\"hi\"}";
    chat_frame_scan(other, strlen(other), &f);
    CHECK(f.kind == FRAME_OTHER);
    chat_frame_scan("not json", 8, &f);
    CHECK(f.kind == FRAME_BAD);
}

static void test_hist(void)
{
    struct hist *h = xcalloc(1, sizeof *h);
    for (uint64_t v = 0; v < 100000; v += 7) {
        uint64_t low = hist_bucket_low(hist_index(v));
        CHECK(low <= v && (v < 1024 || (double)(v - low) <= (double)v / 256));
    }
    CHECK(hist_index(~0ULL >> 1) == HIST_BUCKETS - 1);
    CHECK(hist_quantile(h, 0.5) == 0);
    for (int i = 1; i <= 1000; i++)
        hist_record(h, i * 100); /* 0.1 .. 100 ms */
    uint64_t p50 = hist_quantile(h, 0.5), p99 = hist_quantile(h, 0.99);
    CHECK(p50 >= 49800 && p50 <= 50300);
    CHECK(p99 >= 98800 && p99 <= 99300);
    CHECK(hist_quantile(h, 1.0) == 100000 && h->max_us == 100000 && h->count == 1000);
    hist_record(h, -5);
    CHECK(h->buckets[0] == 1);
    free(h);
}

/* --cpu NAME=PID parsing, and each group's CPU between two readings: a
 * process present in both counts its growth, one born since counts whole. */
static void test_proccpu(void)
{
    struct proc_groups g = {0};
    CHECK(proc_groups_add(&g, "postgres=10") == 0 && g.n == 1 && g.pid[0] == 10);
    CHECK(strcmp(g.name[0], "postgres") == 0);
    CHECK(proc_groups_add(&g, "=10") == -1 && proc_groups_add(&g, "x=") == -1);
    CHECK(proc_groups_add(&g, "x=0") == -1 && proc_groups_add(&g, "x=12y") == -1);
    CHECK(proc_groups_add(&g, "no-pid") == -1);
    CHECK(proc_groups_add(&g, "a-name-of-thirty-two-bytes-long!=1") == -1);
    CHECK(proc_groups_add(&g, "nginx=20") == 0 && g.n == 2);
    struct proc_cpu before[] = {{10, 0, 1000000000}, {11, 0, 500000000}, {20, 1, 0}};
    struct proc_cpu after[] = {{10, 0, 2000000000}, {11, 0, 500000000}, {12, 0, 1000000000},
                               {20, 1, 400000000}};
    struct proc_snap a = {3, 3, before}, b = {4, 4, after};
    json_t *j = proc_groups_json(&g, &a, &b, 2.0, 1000, "login");
    json_t *pg = json_object_get(j, "postgres"), *ngx = json_object_get(j, "nginx");
    CHECK(json_real_value(json_object_get(pg, "cores")) == 1.0);        /* 2 s of CPU in 2 s */
    CHECK(json_real_value(json_object_get(pg, "us_per_login")) == 2000); /* over 1,000 logins */
    CHECK(json_real_value(json_object_get(ngx, "cores")) == 0.2);
    CHECK(json_real_value(json_object_get(ngx, "us_per_login")) == 400);
    json_decref(j);
    struct proc_groups none = {0};
    CHECK(proc_groups_json(&none, &a, &b, 2.0, 1000, "login") == NULL);
    for (int i = g.n; i < PROC_GROUPS_MAX; i++)
        CHECK(proc_groups_add(&g, "more=1") == 0);
    CHECK(proc_groups_add(&g, "full=1") == -1);
}

int selftest_run(void)
{
    checks = failures = 0;
    test_frames();
    test_accept();
    test_http();
    test_scan();
    test_hist();
    test_proccpu();
    fprintf(stderr, "selftest: %d checks, %d failed\n", checks, failures);
    return failures ? -1 : 0;
}
