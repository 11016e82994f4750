/* test_wx_answer.c -- the jscode2session answer parser (no network): good
 * answers, WeChat's refusals, garbage, missing fields and wrong types; and
 * the URL builder's escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "wx_client.h"

static enum wx_status parse(const char *body, struct wx_session *s)
{
    return wx_parse_answer(body, strlen(body), s);
}

static void test_ok(void **state)
{
    (void)state;
    struct wx_session s;
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"oABC\"}", &s),
                     WX_OK);
    assert_int_equal(s.status, WX_OK);
    assert_string_equal(s.openid, "oABC");
    assert_string_equal(s.session_key, "tiihtNczf5v6AKRyjwEUhQ==");
    assert_string_equal(s.unionid, "");
    assert_int_equal(wx_http_status(&s), 200);
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"oABC\","
                           "\"unionid\":\"uXYZ\",\"errcode\":0,\"errmsg\":\"ok\"}",
                           &s),
                     WX_OK);
    assert_string_equal(s.unionid, "uXYZ");
}

static void test_errcode(void **state)
{
    (void)state;
    struct wx_session s;
    assert_int_equal(parse("{\"errcode\":40029,\"errmsg\":\"invalid code\"}", &s), WX_REFUSED);
    assert_int_equal(s.errcode, 40029);
    assert_string_equal(s.errmsg, "invalid code");
    assert_int_equal(wx_http_status(&s), 401);
    assert_int_equal(parse("{\"errcode\":40163}", &s), WX_REFUSED);
    assert_int_equal(s.errcode, 40163);
    assert_int_equal(wx_http_status(&s), 401);
    assert_int_equal(parse("{\"errcode\":-1,\"errmsg\":\"system error\"}", &s), WX_REFUSED);
    assert_int_equal(wx_http_status(&s), 502); /* WeChat busy: not the user's code */
    /* A refusal never carries a session key, even if one is present. */
    assert_int_equal(parse("{\"errcode\":45011,\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"o\"}", &s),
                     WX_REFUSED);
    assert_string_equal(s.session_key, "");
}

static void test_garbage(void **state)
{
    (void)state;
    struct wx_session s;
    const char *bodies[] = {"", "<html>not json", "[1,2]", "\"text\"", "null", "{", "{\"a\":1}{"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse(bodies[i], &s), WX_BAD_ANSWER);
        assert_int_equal(wx_http_status(&s), 502);
    }
    /* Length-delimited: bytes after len are not seen. */
    assert_int_equal(wx_parse_answer("{\"errcode\":1}", 5, &s), WX_BAD_ANSWER);
}

static void test_missing_fields(void **state)
{
    (void)state;
    struct wx_session s;
    assert_int_equal(parse("{}", &s), WX_BAD_ANSWER);
    assert_int_equal(parse("{\"openid\":\"oABC\"}", &s), WX_BAD_ANSWER);
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\"}", &s), WX_BAD_ANSWER);
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"\"}", &s),
                     WX_BAD_ANSWER);
    assert_string_equal(s.session_key, "");
}

static void test_wrong_types(void **state)
{
    (void)state;
    struct wx_session s;
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":42}", &s),
                     WX_BAD_ANSWER);
    assert_int_equal(parse("{\"session_key\":16,\"openid\":\"oABC\"}", &s), WX_BAD_ANSWER);
    assert_int_equal(parse("{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"o\",\"unionid\":[]}", &s),
                     WX_BAD_ANSWER);
    assert_int_equal(parse("{\"errcode\":\"40029\",\"errmsg\":\"invalid code\"}", &s), WX_BAD_ANSWER);
    /* session_key must be base64 of exactly 16 bytes. */
    assert_int_equal(parse("{\"session_key\":\"not base64\",\"openid\":\"oABC\"}", &s), WX_BAD_ANSWER);
    assert_int_equal(parse("{\"session_key\":\"AAAA\",\"openid\":\"oABC\"}", &s), WX_BAD_ANSWER);
    /* openid over 128 characters. */
    char body[512];
    snprintf(body, sizeof(body), "{\"session_key\":\"tiihtNczf5v6AKRyjwEUhQ==\",\"openid\":\"%0129d\"}", 0);
    assert_int_equal(parse(body, &s), WX_BAD_ANSWER);
}

static void test_request_target(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char *prefix = wx_target_prefix(h, "http://127.0.0.1:9/", "wx&1", "s e/c=r");
    assert_string_equal(prefix, "/sns/jscode2session?appid=wx%261&secret=s%20e%2Fc%3Dr&js_code=");
    char *target = wx_request_target(h, prefix, "c+d%");
    assert_string_equal(target, "/sns/jscode2session?appid=wx%261&secret=s%20e%2Fc%3Dr"
                                "&js_code=c%2Bd%25&grant_type=authorization_code");
    free(target);
    free(prefix);
    /* A base with a path keeps it, without its trailing slashes. */
    prefix = wx_target_prefix(h, "https://wx.example/api/v1//", "a", "s");
    assert_string_equal(prefix, "/api/v1/sns/jscode2session?appid=a&secret=s&js_code=");
    free(prefix);
    assert_null(wx_target_prefix(h, "not a url", "a", "s"));
    curl_easy_cleanup(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),           cmocka_unit_test(test_errcode),
        cmocka_unit_test(test_garbage),      cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_wrong_types),  cmocka_unit_test(test_request_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
