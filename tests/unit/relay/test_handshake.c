/* test_handshake.c -- the request head parser and the upgrade decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "handshake.h"
#include "http_head.h"

static const char upgrade[] = "GET /chat?room=r1&X-WX-Skey=abc HTTP/1.1\r\n"
                              "Host: x\r\n"
                              "Upgrade: WebSocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "X-WX-Id:  sid-1 \r\n"
                              "\r\n";

static void test_rfc_accept_vector(void **state)
{
    (void)state;
    char out[HANDSHAKE_ACCEPT_LEN + 1];
    assert_int_equal(handshake_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(handshake_accept_key("short", out), -1);
    assert_int_equal(handshake_accept_key("dGhlIHNhbXBsZSBub25jZQ=!", out), -1);
}

static void test_parse_upgrade(void **state)
{
    (void)state;
    struct http_request req;
    size_t len = strlen(upgrade);
    assert_int_equal(http_head_end(upgrade, len, 0), len);
    assert_int_equal(http_head_end(upgrade, len - 1, 0), 0);
    assert_int_equal(http_head_parse(upgrade, len, &req), HTTP_HEAD_OK);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/chat");
    assert_string_equal(req.query, "room=r1&X-WX-Skey=abc");
    assert_true(req.upgrade_websocket);
    assert_true(req.connection_upgrade);
    assert_string_equal(req.wx_id, "sid-1");
    assert_int_equal(handshake_classify(&req), HS_UPGRADE);
}

static void test_incremental_end(void **state)
{
    (void)state;
    size_t len = strlen(upgrade), found = 0;
    for (size_t n = 1; n <= len && !found; n++)
        found = http_head_end(upgrade, n, n - 1);
    assert_int_equal(found, len);
}

static void classify(const char *head, enum handshake_verdict want)
{
    struct http_request req;
    assert_int_equal(http_head_parse(head, strlen(head), &req), HTTP_HEAD_OK);
    assert_int_equal(handshake_classify(&req), want);
}

static void test_verdicts(void **state)
{
    (void)state;
    classify("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", HS_HEALTHZ);
    classify("GET /other HTTP/1.1\r\n\r\n", HS_NOT_FOUND);
    classify("POST /chat HTTP/1.1\r\n\r\n", HS_BAD_METHOD);
    classify("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             HS_BAD_REQUEST);
    classify("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
             HS_BAD_VERSION);
}

static void test_malformed(void **state)
{
    (void)state;
    struct http_request req;
    const char *bad[] = {"GET\r\n\r\n", "GET /x\r\n\r\n", "GET x HTTP/1.1\r\n\r\n",
                         "GET /x HTTP/1.1\r\nNoColon\r\n\r\n", "GET /x HTTP/1.1\r\n: v\r\n\r\n",
                         "GET /x HTTP/1.1\r\nA B: v\r\n\r\n", "\r\n\r\n",
                         "GET /x HTTP/1.1\r\nUpgrade: web\nConnection: Upgrade\r\n\r\n",
                         "GET /x\x01 HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(http_head_parse(bad[i], strlen(bad[i]), &req), HTTP_HEAD_BAD);
    char big[HTTP_VALUE_MAX + 64] = "GET /x HTTP/1.1\r\nX-WX-Skey: ";
    size_t n = strlen(big);
    memset(big + n, 'a', HTTP_VALUE_MAX);
    memcpy(big + n + HTTP_VALUE_MAX, "\r\n\r\n", 5);
    assert_int_equal(http_head_parse(big, strlen(big), &req), HTTP_HEAD_BAD);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_true(http_has_token("keep-alive, Upgrade", 19, "upgrade"));
    assert_false(http_has_token("keep-alive, Upgraded", 20, "upgrade"));
    assert_false(http_has_token("", 0, "upgrade"));
}

static void test_responses(void **state)
{
    (void)state;
    char buf[512];
    size_t n = handshake_response_101("abc=", buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, "Sec-WebSocket-Accept: abc=\r\n\r\n"));
    n = handshake_response_http("503 Service Unavailable", "", "{\"ok\":false}", buf, sizeof(buf));
    assert_non_null(strstr(buf, "Content-Length: 12\r\n"));
    assert_int_equal(handshake_response_http("200 OK", "", "{}", buf, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_accept_vector), cmocka_unit_test(test_parse_upgrade),
        cmocka_unit_test(test_incremental_end),   cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
