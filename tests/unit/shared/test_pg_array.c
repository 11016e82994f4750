/* test_pg_array.c -- shared/pg_array.c: array literals quote every element,
 * escape '"' and '\', write NULL entries as NULL, and grow past their first
 * buffer. (The integration tests check that PostgreSQL reads them back.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pg_array.h"

static void expect_literal(const char *const *items, size_t n, const char *want)
{
    char *got = pg_array_literal(items, n);
    assert_string_equal(got, want);
    free(got);
}

static void test_empty_and_plain(void **state)
{
    (void)state;
    expect_literal(NULL, 0, "{}");
    const char *one[] = {"a"};
    expect_literal(one, 1, "{\"a\"}");
    const char *three[] = {"1", "", "x y"};
    expect_literal(three, 3, "{\"1\",\"\",\"x y\"}");
}

static void test_null_entries(void **state)
{
    (void)state;
    const char *items[] = {NULL, "NULL", NULL};
    /* a NULL entry is the SQL NULL; the string "NULL" stays a quoted string */
    expect_literal(items, 3, "{NULL,\"NULL\",NULL}");
}

static void test_quotes_and_backslashes_escaped(void **state)
{
    (void)state;
    const char *items[] = {"say \"hi\"", "C:\\dir", "{,}", "\\\""};
    expect_literal(items, 4, "{\"say \\\"hi\\\"\",\"C:\\\\dir\",\"{,}\",\"\\\\\\\"\"}");
}

static void test_long_elements_grow_the_buffer(void **state)
{
    (void)state;
    enum { N = 50, LEN = 300 };
    static char bufs[N][LEN + 1];
    const char *items[N];
    for (int i = 0; i < N; i++) {
        memset(bufs[i], i % 2 ? '"' : 'a', LEN);
        bufs[i][LEN] = '\0';
        items[i] = bufs[i];
    }
    char *got = pg_array_literal(items, N);
    size_t quoted = 0, plain = 0;
    for (const char *p = got; *p; p++) {
        quoted += *p == '\\';
        plain += *p == 'a';
    }
    assert_int_equal(quoted, (N / 2) * LEN);
    assert_int_equal(plain, (N / 2) * LEN);
    /* every element quoted: 2 quotes each, plus the escaped ones */
    assert_int_equal(strlen(got), 2 + (N - 1) + N * 2 + (N / 2) * LEN + (N / 2) * LEN * 2);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_plain),
        cmocka_unit_test(test_null_entries),
        cmocka_unit_test(test_quotes_and_backslashes_escaped),
        cmocka_unit_test(test_long_elements_grow_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
