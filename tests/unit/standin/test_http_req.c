/* test_http_req.c -- tools/wx-standin/http_req.c: finding the end of a
 * head (incrementally, bare LF or CR refused), the request line (methods
 * and versions Node accepts, target forms), header fields (Content-Length,
 * Transfer-Encoding, Connection, Expect, Host), keep-alive and header look-up
 * (first or joined, latin1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http_req.h"

static enum http_req_status parse(const char *head, struct http_req *req)
{
    return http_req_parse(head, strlen(head), req);
}

static void test_head_end(void **state)
{
    (void)state;
    const char *h = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
    size_t scanned = 0;
    assert_int_equal(http_req_head_end(h, strlen(h), &scanned), 27);
    /* fed one byte at a time: found exactly when the last LF arrives */
    scanned = 0;
    for (size_t n = 1; n < 27; n++)
        assert_int_equal(http_req_head_end(h, n, &scanned), 0);
    assert_int_equal(http_req_head_end(h, 27, &scanned), 27);
    /* a CR at the end of what arrived is looked at again */
    scanned = 0;
    assert_int_equal(http_req_head_end("GET / HTTP/1.1\r", 15, &scanned), 0);
    assert_int_equal(http_req_head_end("GET / HTTP/1.1\r\n\r\n", 18, &scanned), 18);
    /* line breaks that are not CRLF can never make a valid head */
    scanned = 0;
    assert_int_equal(http_req_head_end("GET / HTTP/1.1\nHost: x\n\n", 24, &scanned), -1);
    scanned = 0;
    assert_int_equal(http_req_head_end("GET / HTTP/1.1\rHost: x", 22, &scanned), -1);
    scanned = 0;
    assert_int_equal(http_req_head_end("", 0, &scanned), 0);
}

static void test_request_line(void **state)
{
    (void)state;
    struct http_req req;
    assert_int_equal(parse("GET /sns/jscode2session?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", &req),
                     HTTP_REQ_OK);
    assert_true(http_req_method_is(&req, "GET"));
    assert_false(http_req_method_is(&req, "GE"));
    assert_int_equal(req.target_len, strlen("/sns/jscode2session?a=1"));
    assert_memory_equal(req.target, "/sns/jscode2session?a=1", req.target_len);
    assert_true(req.http11);
    assert_true(req.keep_alive);
    assert_int_equal(req.body_len, 0);
    /* other methods Node knows, the asterisk and absolute forms */
    assert_int_equal(parse("M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n", &req), HTTP_REQ_OK);
    assert_int_equal(parse("POST http://h:1/a?b HTTP/1.1\r\nHost: x\r\n\r\n", &req), HTTP_REQ_OK);
    assert_int_equal(parse("HEAD / HTTP/1.0\r\n\r\n", &req), HTTP_REQ_OK); /* no Host in 1.0 */
    assert_false(req.http11);
    assert_false(req.keep_alive);
}

static void test_request_line_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\r\n\r\n",
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get / HTTP/1.1\r\nHost: x\r\n\r\n", /* methods are case-sensitive */
        "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", /* unknown to Node */
        "CONNECT h:1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
        "GET / HTTP/3.0\r\n\r\n",
        "GET / http/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1x\r\nHost: x\r\n\r\n",
        "GET a HTTP/1.1\r\nHost: x\r\n\r\n", /* not /..., * or scheme:// */
        "GET a:b HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET :// HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", /* raw non-ASCII */
    };
    static const char nul[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct http_req req;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &req), HTTP_REQ_BAD);
    assert_int_equal(http_req_parse(nul, sizeof(nul) - 1, &req), HTTP_REQ_BAD);
    /* the head must end with its blank line */
    assert_int_equal(http_req_parse("GET / HTTP/1.0\r\n", 16, &req), HTTP_REQ_BAD);
}

static void test_headers(void **state)
{
    (void)state;
    struct http_req req;
    assert_int_equal(parse("POST /standin/code HTTP/1.1\r\nhost: x\r\ncontent-length:  12 \r\n"
                           "Connection: Keep-Alive, CLOSE\r\nExpect: 100-Continue\r\n\r\n",
                           &req),
                     HTTP_REQ_OK);
    assert_int_equal(req.body_len, 12);
    assert_false(req.keep_alive);
    assert_true(req.expect_continue);
    assert_false(req.expect_unknown);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: later\r\n\r\n", &req),
                     HTTP_REQ_OK);
    assert_true(req.expect_unknown);
    /* HTTP/1.0 stays open only when asked; Expect means nothing there */
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: x\r\n\r\n", &req),
                     HTTP_REQ_OK);
    assert_true(req.keep_alive);
    assert_false(req.expect_unknown);
    /* HTTP/2.0 and 0.9 in this syntax are taken, and closed like 1.0 (llhttp) */
    assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &req), HTTP_REQ_OK);
    assert_false(req.keep_alive);
    assert_int_equal(parse("GET / HTTP/0.9\r\n\r\n", &req), HTTP_REQ_OK);
    assert_false(req.keep_alive);
    /* an empty value is a value */
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\n", &req), HTTP_REQ_OK);
}

static void test_headers_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n\r\n", /* HTTP/1.1 without Host */
        "GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fz\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX: a\rz\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    };
    struct http_req req;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &req), HTTP_REQ_BAD);
    assert_int_equal(
        parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &req),
        HTTP_REQ_UNSUPPORTED);
    /* the largest Content-Length the parser takes (the connection's limit is lower) */
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n", &req),
        HTTP_REQ_OK);
    assert_int_equal(
        parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000001\r\n\r\n", &req),
        HTTP_REQ_BAD);
}

static void test_header_lookup(void **state)
{
    (void)state;
    struct http_req req;
    struct buf v = BUF_INIT;
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost:  first \r\nX-Forwarded-Host: a\r\n"
                           "host: second\r\nx-forwarded-host:b\r\nX-Latin: caf\xe9\r\n\r\n",
                           &req),
                     HTTP_REQ_OK);
    assert_true(http_req_header(&req, "host", false, &v));
    assert_string_equal(buf_str(&v), "first");
    assert_true(http_req_header(&req, "HOST", true, &v));
    assert_string_equal(buf_str(&v), "first, second");
    assert_true(http_req_header(&req, "x-forwarded-host", true, &v));
    assert_string_equal(buf_str(&v), "a, b");
    assert_true(http_req_header(&req, "x-latin", false, &v)); /* latin1 read as Node does */
    assert_string_equal(buf_str(&v), "caf\xc3\xa9");
    assert_false(http_req_header(&req, "x-missing", true, &v));
    assert_int_equal(v.len, 0);
    assert_false(http_req_header(&req, "hos", false, &v));
    buf_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_end),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_request_line_malformed),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_headers_malformed),
        cmocka_unit_test(test_header_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
