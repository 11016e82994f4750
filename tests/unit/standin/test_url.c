/* test_url.c -- tools/wx-standin/url.c and text.c: request targets to
 * pathnames as `new URL()` gives them (dot segments, backslashes,
 * authorities, percent-encoding), URLSearchParams.get() ('+' and %XX
 * decoding, invalid escapes kept, first value wins, exact names, U+FFFD
 * for invalid UTF-8, NUL bytes kept), the URI component functions and
 * Number(string). Expected values were taken from Node 20. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "jscompat.h"
#include "text.h"
#include "url.h"

/* The pathname and query of target. */
static void split(const char *target, const char *path, const char *query)
{
    struct buf p = BUF_INIT;
    const char *q;
    size_t qlen;
    url_split_target(target, strlen(target), &p, &q, &qlen);
    assert_string_equal(buf_str(&p), path);
    assert_int_equal(qlen, strlen(query));
    assert_memory_equal(q, query, qlen);
    buf_free(&p);
}

static void test_pathnames(void **state)
{
    (void)state;
    split("/sns/jscode2session?appid=a&b", "/sns/jscode2session", "appid=a&b");
    split("/", "/", "");
    split("/?", "/", "");
    split("/a?b?c#d?e", "/a", "b?c");
    split("/a#b?c", "/a", "");
    split("/a/../b/./c/%2e%2E/d", "/b/d", "");
    split("/a\\b\\..\\c", "/a/c", "");
    split("/a/..", "/", "");
    split("/.", "/", "");
    split("/x/%2e", "/x/", "");
    split("/a/b/../../..", "/", "");
    split("/a//b/", "/a//b/", "");
    split("//host/x/y?q=1", "/x/y", "q=1");
    split("///a/b", "/b", "");
    split("//host", "/", "");
    split("http://h:1/sns?x", "/sns", "x");
    split("https://h", "/", "");
    split("*", "/*", "");
    split("/a^b|c{d}`e\"f<g>h", "/a^b|c%7Bd%7D%60e%22f%3Cg%3Eh", "");
    split("/%zz/%41", "/%zz/%41", ""); /* escapes are kept as sent */
}

/* get(query, name) must give want (NULL: absent). */
static void param(const char *query, const char *name, const char *want, size_t want_len)
{
    struct buf v = BUF_INIT;
    bool found = url_param_get(query, strlen(query), name, &v);
    if (!want) {
        assert_false(found);
        assert_int_equal(v.len, 0);
    } else {
        assert_true(found);
        assert_int_equal(v.len, want_len);
        assert_memory_equal(buf_str(&v), want, want_len);
    }
    buf_free(&v);
}

#define PARAM(q, n, w) param(q, n, w, sizeof(w) - 1)

static void test_params_decoding(void **state)
{
    (void)state;
    PARAM("user=alice", "user", "alice");
    PARAM("a=1&user=al+ice%2Bx", "user", "al ice+x");
    PARAM("user=%E5%BE%AE%e4%bf%a1", "user", "\xe5\xbe\xae\xe4\xbf\xa1");
    PARAM("user=%zz%4%", "user", "%zz%4%"); /* invalid escapes stay */
    PARAM("user=a%00b", "user", "a\0b");    /* NUL is a character */
    PARAM("user=%FF%C3x", "user", "\xef\xbf\xbd\xef\xbf\xbdx");
    PARAM("user=%ED%A0%80", "user", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    PARAM("user=%F0%9F%98", "user", "\xef\xbf\xbd");                         /* cut short */
    PARAM("user=%C0%80", "user", "\xef\xbf\xbd\xef\xbf\xbd");                /* overlong */
    PARAM("us%65r=x", "user", "x");                                          /* names decode too */
    PARAM("a+b=1", "a b", "1");
    PARAM("user==x=", "user", "=x=");
}

static void test_params_lookup(void **state)
{
    (void)state;
    PARAM("user=a&user=b", "user", "a");
    PARAM("user&user=b", "user", "");
    PARAM("&&user=&x", "user", "");
    param("User=bob", "user", NULL, 0); /* names are case-sensitive */
    param("", "user", NULL, 0);
    param("users=1&use=2", "user", NULL, 0);
    param("=x", "", "x", 1);
}

static void test_text(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    static const char plain[] = "a b/\xe5\xbe\xae!~*'()-_.\0";
    text_uri_encode_component(plain, sizeof(plain) - 1, &b);
    assert_string_equal(buf_str(&b), "a%20b%2F%E5%BE%AE!~*'()-_.%00");
    buf_clear(&b);
    assert_int_equal(text_uri_decode_component("%E5%BE%AEa+%20", 14, &b), 0);
    assert_string_equal(buf_str(&b), "\xe5\xbe\xae"
                                     "a+ ");
    static const char *const bad[] = {"%",      "%4",        "%zz",    "%FF",          "%C3",
                                      "%C3%41", "%ED%A0%80", "%C0%80", "%F4%90%80%80", "%E5%BE"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        buf_clear(&b);
        assert_int_equal(text_uri_decode_component(bad[i], strlen(bad[i]), &b), -1);
    }
    assert_int_equal(text_utf16_length("a\xc3\xa9\xe5\xbe\xae\xf0\x9f\x98\x80", 10), 5);
    assert_int_equal(text_first_char_len("\xf0\x9f\x98\x80x", 5), 4);
    assert_int_equal(text_first_char_len("", 0), 0);
    buf_free(&b);
}

static void test_js_number(void **state)
{
    (void)state;
#define NUM(s) js_number(s, sizeof(s) - 1)
    assert_true(NUM("") == 0 && NUM("  ") == 0 && NUM("\xc2\xa0\xe3\x80\x80") == 0);
    assert_true(NUM("1") == 1 && NUM(" 12\t\n") == 12 && NUM("+1.5") == 1.5);
    assert_true(NUM("-0") == 0 && signbit(NUM("-0")));
    assert_true(NUM("1e3") == 1000 && NUM(".5") == 0.5 && NUM("5.") == 5 && NUM("1E-2") == 0.01);
    assert_true(NUM("0x1F") == 31 && NUM("0o17") == 15 && NUM("0B101") == 5);
    assert_true(isinf(NUM("Infinity")) && NUM("-Infinity") < 0);
    static const char *const nan[] = {"abc",
                                      "1x",
                                      "0x",
                                      "-0x1",
                                      "0x1g",
                                      "1e",
                                      ".",
                                      "+",
                                      "infinity",
                                      "1_000",
                                      "0b2",
                                      "1 2",
                                      "NaN",
                                      "\xe2\x80\x8b"
                                      "1"};
    for (size_t i = 0; i < sizeof(nan) / sizeof(nan[0]); i++)
        assert_true(isnan(js_number(nan[i], strlen(nan[i]))));
    int precision = 0;
    json_t *j = js_number_json(NAN, &precision);
    assert_true(json_is_null(j));
    json_decref(j);
    j = js_number_json(-0.0, &precision);
    assert_true(json_is_integer(j) && json_integer_value(j) == 0);
    json_decref(j);
    assert_int_equal(precision, 0);
    j = js_number_json(0.1, &precision);
    assert_true(json_is_real(j));
    assert_int_equal(precision, 1);
    json_t *obj = json_pack("{s:o, s:s}", "g", j, "s", "\x1f/\xe5\xbe\xae\"");
    size_t len = 0;
    char *text = js_json_text(obj, precision, &len);
    assert_string_equal(text, "{\"g\":0.1,\"s\":\"\\u001f/\xe5\xbe\xae\\\"\"}");
    assert_int_equal(len, strlen(text));
    free(text);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pathnames),     cmocka_unit_test(test_params_decoding),
        cmocka_unit_test(test_params_lookup), cmocka_unit_test(test_text),
        cmocka_unit_test(test_js_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
