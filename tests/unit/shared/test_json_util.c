/* test_json_util.c -- shared/json_util.c: json_encode() gives jansson's
 * compact encoding with its exact length, for values that fit its stack
 * buffer and for values that do not, and json_string_field() bounds and
 * type-checks members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/* json_encode(v) must equal json_dumps(v) with the same flags. */
static void expect_same_as_dumps(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = json_encode(v, &len);
    assert_non_null(want);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    free(want);
    json_decref(v);
}

static void test_small_values(void **state)
{
    (void)state;
    expect_same_as_dumps(json_pack("{s:s, s:I, s:b, s:n}", "type", "remote", "id", (json_int_t)17,
                                   "text", 1, "uid"));
    expect_same_as_dumps(json_string(""));
    expect_same_as_dumps(json_string("quote \" backslash \\ newline \n \xe4\xbd\xa0\xe5\xa5\xbd"));
    expect_same_as_dumps(json_integer(-9007199254740993LL));
    expect_same_as_dumps(json_array());
}

/* Sizes around the 2,048-byte stack buffer and far past it. */
static void test_values_past_the_stack_buffer(void **state)
{
    (void)state;
    static const size_t sizes[] = {2044, 2045, 2046, 2047, 2048, 5000, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *s = malloc(sizes[i] + 1);
        memset(s, 'x', sizes[i]);
        s[sizes[i]] = '\0';
        s[sizes[i] / 2] = '"'; /* escaped: one byte more in the output */
        expect_same_as_dumps(json_pack("{s:s}", "content", s));
        expect_same_as_dumps(json_string(s));
        free(s);
    }
}

static void test_length_is_optional(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i}", "n", 1);
    char *got = json_encode(v, NULL);
    assert_string_equal(got, "{\"n\":1}");
    free(got);
    json_decref(v);
}

static void test_string_field(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:i}", "name", "abc", "n", 3);
    assert_string_equal(json_string_field(o, "name", 3), "abc");
    assert_null(json_string_field(o, "name", 2));    /* too long */
    assert_null(json_string_field(o, "n", 10));      /* not a string */
    assert_null(json_string_field(o, "missing", 10));
    assert_null(json_string_field(NULL, "name", 10));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values),
        cmocka_unit_test(test_values_past_the_stack_buffer),
        cmocka_unit_test(test_length_is_optional),
        cmocka_unit_test(test_string_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
