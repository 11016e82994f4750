/* test_query.c -- shared/query.c: percent-decoding ('+', escapes, NUL,
 * bounds), cutting a query into pairs, and parameter look-up
 * (case-insensitive names, first wins). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "query.h"

static long dec(const char *in, char *out, size_t cap)
{
    return query_decode(in, strlen(in), out, cap);
}

static void test_decode_plain_plus_and_escapes(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(dec("abc", out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(dec("a+b", out, sizeof(out)), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(dec("a%2Bb", out, sizeof(out)), 3); /* an escaped '+' stays '+' */
    assert_string_equal(out, "a+b");
    assert_int_equal(dec("%41%4a%4A%7e", out, sizeof(out)), 4);
    assert_string_equal(out, "AJJ~");
    assert_int_equal(dec("%2F%3d%26", out, sizeof(out)), 3);
    assert_string_equal(out, "/=&");
    assert_int_equal(dec("%E5%BE%AE", out, sizeof(out)), 3); /* UTF-8 bytes pass */
    assert_string_equal(out, "\xe5\xbe\xae");
    assert_int_equal(dec("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* base64 survives when its '+' is escaped, as clients must do */
    assert_int_equal(dec("ab%2Bcd%2F%3D%3D", out, sizeof(out)), 8);
    assert_string_equal(out, "ab+cd/==");
}

static void test_decode_bad_escapes(void **state)
{
    (void)state;
    static const char *const bad[] = {"%", "%4", "a%", "a%2", "%zz", "%g1", "%1g", "%%41", "% 41",
                                      "%-1", "%+1"};
    char out[64];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(dec(bad[i], out, sizeof(out)), QUERY_MALFORMED);
}

static void test_decode_nul(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(dec("a%00b", out, sizeof(out)), QUERY_MALFORMED);
    assert_int_equal(dec("%00", out, sizeof(out)), QUERY_MALFORMED);
    assert_int_equal(query_decode("a\0b", 3, out, sizeof(out)), QUERY_MALFORMED);
}

static void test_decode_too_long(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'Z', sizeof(out));
    assert_int_equal(dec("abcd", out, 4), QUERY_TOO_LONG); /* no room for the NUL */
    assert_int_equal(out[4], 'Z');                         /* nothing past cap written */
    assert_int_equal(dec("abcd", out, 5), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(dec("%41%42%43%44", out, 5), 4); /* cap counts decoded bytes */
    assert_int_equal(dec("%41%42%43%44%45", out, 5), QUERY_TOO_LONG);
    assert_int_equal(dec("", out, 1), 0);
    assert_int_equal(dec("", out, 0), QUERY_TOO_LONG);
    assert_int_equal(dec("a", out, 0), QUERY_TOO_LONG);
}

static void test_get_finds_and_decodes(void **state)
{
    (void)state;
    char out[64];
    const char *q = "x=1&X-WX-Code=ab%2Bc+d&empty=&flag&last=z";
    assert_int_equal(query_get(q, "X-WX-Code", out, sizeof(out)), 6);
    assert_string_equal(out, "ab+c d");
    assert_int_equal(query_get(q, "x", out, sizeof(out)), 1);
    assert_string_equal(out, "1");
    assert_int_equal(query_get(q, "empty", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(query_get(q, "flag", out, sizeof(out)), 0); /* no '=': empty value */
    assert_string_equal(out, "");
    assert_int_equal(query_get(q, "last", out, sizeof(out)), 1);
    assert_string_equal(out, "z");
    assert_int_equal(query_get("a=b=c", "a", out, sizeof(out)), 3);
    assert_string_equal(out, "b=c");
    assert_int_equal(query_get("&&a=1&", "a", out, sizeof(out)), 1);
    assert_string_equal(out, "1");
}

static void test_get_case_insensitive_names(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(query_get("x-wx-code=abc", "X-WX-Code", out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(query_get("X-WX-SKEY=k", "x-wx-skey", out, sizeof(out)), 1);
    assert_int_equal(query_get("X%2DWX%2DId=7", "x-wx-id", out, sizeof(out)), 1); /* encoded name */
    assert_string_equal(out, "7");
    assert_int_equal(query_get("x+y=1", "x y", out, sizeof(out)), 1);
}

static void test_get_first_wins(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(query_get("a=1&a=2", "a", out, sizeof(out)), 1);
    assert_string_equal(out, "1");
    assert_int_equal(query_get("A=first&a=second", "a", out, sizeof(out)), 5);
    assert_string_equal(out, "first");
}

static void test_get_not_found(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(query_get(NULL, "a", out, sizeof(out)), QUERY_NOT_FOUND);
    assert_int_equal(query_get("", "a", out, sizeof(out)), QUERY_NOT_FOUND);
    assert_int_equal(query_get("ab=1&ba=2&a%00=3", "a", out, sizeof(out)), QUERY_NOT_FOUND);
    assert_int_equal(query_get("abc=1", "ab", out, sizeof(out)), QUERY_NOT_FOUND);
    assert_int_equal(query_get("=1", "a", out, sizeof(out)), QUERY_NOT_FOUND);
    /* a name longer than any we look for is skipped, the next one found */
    char q[400];
    memset(q, 'a', 300);
    strcpy(q + 300, "=1&a=2");
    assert_int_equal(query_get(q, "a", out, sizeof(out)), 1);
    assert_string_equal(out, "2");
}

static void test_get_value_errors(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(query_get("a=abcd", "a", out, sizeof(out)), QUERY_TOO_LONG);
    assert_int_equal(query_get("a=abc", "a", out, sizeof(out)), 3);
    assert_int_equal(query_get("a=%zz", "a", out, sizeof(out)), QUERY_MALFORMED);
    assert_int_equal(query_get("a=x%00", "a", out, sizeof(out)), QUERY_MALFORMED);
    assert_int_equal(query_get("a=%4", "a", out, sizeof(out)), QUERY_MALFORMED);
    /* the escape ends at '&', it does not run into the next pair */
    assert_int_equal(query_get("a=%4&b=1", "a", out, sizeof(out)), QUERY_MALFORMED);
}

/* Cut query into pairs and print them as "key:value|" into out. */
static void pairs_of(const char *query, size_t len, char *out, size_t cap)
{
    const char *p = query, *end = query + len;
    struct query_pair pair;
    size_t o = 0;
    out[0] = '\0';
    while (query_next(&p, end, &pair) && o < cap)
        o += (size_t)snprintf(out + o, cap - o, "%.*s:%.*s|", (int)pair.key_len, pair.key,
                              (int)pair.value_len, pair.value);
    assert_true(p == end);
}

static void test_next_cuts_pairs(void **state)
{
    (void)state;
    char out[128];
    pairs_of("a=1&&b&c=&d=x=y", 15, out, sizeof(out));
    assert_string_equal(out, "a:1|:|b:|c:|d:x=y|");
    pairs_of("a=1&", 4, out, sizeof(out)); /* a final '&' leaves no empty pair */
    assert_string_equal(out, "a:1|");
    pairs_of("", 0, out, sizeof(out));
    assert_string_equal(out, "");
    pairs_of("k=v&rest", 3, out, sizeof(out)); /* stops at end, not at NUL */
    assert_string_equal(out, "k:v|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_plain_plus_and_escapes),
        cmocka_unit_test(test_decode_bad_escapes),
        cmocka_unit_test(test_decode_nul),
        cmocka_unit_test(test_decode_too_long),
        cmocka_unit_test(test_next_cuts_pairs),
        cmocka_unit_test(test_get_finds_and_decodes),
        cmocka_unit_test(test_get_case_insensitive_names),
        cmocka_unit_test(test_get_first_wins),
        cmocka_unit_test(test_get_not_found),
        cmocka_unit_test(test_get_value_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
