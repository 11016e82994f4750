/* test_routes.c -- tools/wx-standin: url.c (path and query of a target),
 * text.c (UTF-8 checks, percent-encoding, decimal integers) and the
 * handlers behind routes.c driven with parsed requests: exact paths,
 * parameters read as query_get reads them (case-insensitive names, bad escapes and
 * over-long values refused), gender and delayMs rules, the JSON key order
 * of rawData, errcode:N replies and avatar names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "codes.h"
#include "routes.h"
#include "settings.h"
#include "text.h"
#include "url.h"

static struct settings cfg = {"127.0.0.1", "9911", "wx0000standin0000", "standin-secret"};

/* The path and query of target. */
static void split(const char *target, const char *path, const char *query)
{
    struct buf p = BUF_INIT, q = BUF_INIT;
    url_split_target(target, strlen(target), &p, &q);
    assert_string_equal(buf_str(&p), path);
    assert_string_equal(buf_str(&q), query);
    buf_free(&p);
    buf_free(&q);
}

static void test_split(void **state)
{
    (void)state;
    split("/sns/jscode2session?appid=a&b", "/sns/jscode2session", "appid=a&b");
    split("/", "/", "");
    split("/?", "/", "");
    split("/a?b?c#d?e", "/a", "b?c");
    split("/a#b?c", "/a", "");
    split("/a/../b/%2e", "/a/../b/%2e", ""); /* nothing normalised */
    split("*", "*", "");
}

static void test_text(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    static const char plain[] = "a b/\xe5\xbe\xae~-_.+\0";
    text_percent_encode(plain, sizeof(plain) - 1, &b);
    assert_string_equal(buf_str(&b), "a%20b%2F%E5%BE%AE~-_.%2B%00");
    assert_true(text_utf8_valid("a\xc3\xa9\xe5\xbe\xae\xf0\x9f\x98\x80", 10));
    static const char *const bad[] = {
        "\xff", "\xc3", "\xc3\x41", "\xed\xa0\x80", "\xc0\x80", "\xf4\x90\x80\x80", "\xe5\xbe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(text_utf8_valid(bad[i], strlen(bad[i])));
    assert_int_equal(text_first_char_len("\xf0\x9f\x98\x80x", 5), 4);
    assert_int_equal(text_first_char_len("", 0), 0);
    long v = 7;
    assert_int_equal(text_to_long("-12", &v), 0);
    assert_int_equal(v, -12);
    static const char *const junk[] = {
        "", "+", "1x", " 1", "1 ", "0x1", "1e3", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        assert_int_equal(text_to_long(junk[i], &v), -1);
    buf_free(&b);
}

/* Route "METHOD target" with codes at time now_ms into a (freed by the
 * caller); the delay routes_handle returned. */
static long handle(struct standin *s, const char *method, const char *target, long long now_ms,
                   struct answer *a)
{
    char head[8192];
    struct http_req req;
    struct exchange_later *later = NULL;
    int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: h:1\r\n\r\n", method, target);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    assert_int_equal(http_req_parse(head, (size_t)n, &req), HTTP_REQ_OK);
    long delay = routes_handle(s, &req, now_ms, a, &later);
    if (delay > 0) {
        exchange_finish(s, later, now_ms + delay, a);
        exchange_later_free(later);
    }
    return delay;
}

/* The JSON body of answering target, with its status checked. */
static json_t *json_of(struct standin *s, const char *target, int status)
{
    struct answer a = ANSWER_INIT;
    handle(s, "GET", target, 1000, &a);
    assert_int_equal(a.status, status);
    json_t *v = json_loadb(buf_str(&a.body), a.body.len, 0, NULL);
    assert_non_null(v);
    answer_free(&a);
    return v;
}

static void test_paths(void **state)
{
    struct standin *s = *state;
    json_t *v = json_of(s, "/standin/healthz?x#y", 200);
    assert_true(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    static const char *const not_found[] = {"/standin/./healthz", "//h/standin/healthz",
                                            "http://h/standin/healthz", "/standin/healthz/",
                                            "/standin/avatar/a/b.svg"};
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        v = json_of(s, not_found[i], 404);
        assert_int_equal(json_integer_value(json_object_get(v, "errcode")), -1);
        json_decref(v);
    }
}

static void test_issue(void **state)
{
    struct standin *s = *state;
    json_t *v = json_of(s, "/standin/code?USER=al+ice%2F&gender=2&nickName=%E5%BE%AE", 200);
    const char *raw = json_string_value(json_object_get(v, "rawData"));
    assert_string_equal(raw, "{\"nickName\":\"\xe5\xbe\xae\",\"gender\":2,\"language\":\"zh_CN\","
                             "\"city\":\"Guangzhou\",\"province\":\"Guangdong\",\"country\":\"CN\","
                             "\"avatarUrl\":\"http://h:1/standin/avatar/al%20ice%2F.svg\"}");
    json_decref(v);
    static const char *const genders[] = {"3", "-1", "1.0", "x", "01x"};
    for (size_t i = 0; i < sizeof(genders) / sizeof(genders[0]); i++) {
        char target[128];
        snprintf(target, sizeof(target), "/standin/code?user=g&gender=%s", genders[i]);
        v = json_of(s, target, 200);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(v, "userInfo"), "gender")), 0);
        json_decref(v);
    }
}

static void test_issue_refused(void **state)
{
    struct standin *s = *state;
    char target[256];
    memset(target, 0, sizeof(target));
    strcpy(target, "/standin/code?user=");
    memset(target + strlen(target), 'u', 65); /* one byte too many */
    const char *const bad[] = {"/standin/code",
                               "/standin/code?user=",
                               "/standin/code?user=%zz",
                               "/standin/code?user=a%00b",
                               "/standin/code?user=%FF",
                               "/standin/code?user=a&reply=%",
                               target};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = json_of(s, bad[i], 400);
        assert_non_null(json_string_value(json_object_get(v, "error")));
        json_decref(v);
    }
    target[strlen(target) - 1] = '\0'; /* 64 bytes: fine */
    json_decref(json_of(s, target, 200));
}

/* Exchange code c of a fresh issuance with options `opts`; its answer. */
static json_t *exchange(struct standin *s, const char *opts, long *delay)
{
    char target[512];
    snprintf(target, sizeof(target), "/standin/code?user=x%s", opts);
    json_t *issued = json_of(s, target, 200);
    snprintf(target, sizeof(target),
             "/sns/jscode2session?appid=wx0000standin0000&secret=standin-secret"
             "&grant_type=authorization_code&js_code=%s",
             json_string_value(json_object_get(issued, "code")));
    json_decref(issued);
    struct answer a = ANSWER_INIT;
    *delay = handle(s, "GET", target, 1000, &a);
    json_t *v = json_loadb(buf_str(&a.body), a.body.len, 0, NULL);
    answer_free(&a);
    return v;
}

static void test_exchange(void **state)
{
    struct standin *s = *state;
    long delay;
    json_t *v = exchange(s, "&reply=errcode:-45011", &delay);
    assert_int_equal(json_integer_value(json_object_get(v, "errcode")), -45011);
    json_decref(v);
    v = exchange(s, "&reply=errcode:1e3&delayMs=999999", &delay); /* junk: a plain exchange */
    assert_int_equal(delay, 120000);
    assert_non_null(json_object_get(v, "session_key"));
    json_decref(v);
    v = exchange(s, "&delayMs=-5", &delay);
    assert_int_equal(delay, 0);
    json_decref(v);
    v = json_of(s,
                "/sns/jscode2session?appid=wx0000standin0000&secret=standin-secret"
                "&grant_type=authorization_code&js_code=%zz",
                200);
    assert_int_equal(json_integer_value(json_object_get(v, "errcode")), 40029);
    json_decref(v);
}

static void test_avatar(void **state)
{
    struct standin *s = *state;
    struct answer a = ANSWER_INIT;
    handle(s, "GET", "/standin/avatar/%E5%BE%AEx.svg", 1000, &a);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(buf_str(&a.body), ">\xe5\xbe\xae</text>"));
    handle(s, "GET", "/standin/avatar/%3Cb.svg", 1000, &a);
    assert_non_null(strstr(buf_str(&a.body), ">&#60;</text>"));
    static const char *const bad[] = {"/standin/avatar/%E5%BE.svg", "/standin/avatar/%zz.svg",
                                      "/standin/avatar/%00.svg"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        handle(s, "GET", bad[i], 1000, &a);
        assert_int_equal(a.status, 400);
    }
    answer_free(&a);
}

static int setup(void **state)
{
    static struct standin s = {&cfg, NULL};
    s.codes = codes_create();
    *state = &s;
    return 0;
}

static int teardown(void **state)
{
    struct standin *s = *state;
    codes_free(s->codes);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),         cmocka_unit_test(test_text),
        cmocka_unit_test(test_paths),         cmocka_unit_test(test_issue),
        cmocka_unit_test(test_issue_refused), cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_avatar),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
