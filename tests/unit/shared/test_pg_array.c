/* test_pg_array.c -- shared/pg_array.c: the binary array layout that
 * PostgreSQL's array_recv reads (header, then a length word and the bytes
 * of each element), NULL elements, the empty array, text passed verbatim,
 * and growth past the first buffer. (The integration tests check that
 * PostgreSQL reads the arrays back: logins, posts, notifications.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pg_array.h"

/* The 32-bit big-endian word at p. */
static uint32_t word(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Check a one-dimensional header: has-null flag, element OID, length. */
static void expect_header(const struct pg_array *a, uint32_t has_null, uint32_t oid, uint32_t n)
{
    assert_int_equal(word(a->buf), 1);
    assert_int_equal(word(a->buf + 4), has_null);
    assert_int_equal(word(a->buf + 8), oid);
    assert_int_equal(word(a->buf + 12), n);
    assert_int_equal(word(a->buf + 16), 1); /* lower bound */
}

static void test_int8_elements_big_endian(void **state)
{
    (void)state;
    struct pg_array a;
    pg_array_init(&a, PG_INT8, 0);
    pg_array_add_int8(&a, 1);
    pg_array_add_int8(&a, -2);
    pg_array_add_int8(&a, INT64_C(0x0102030405060708));
    assert_int_equal(pg_array_finish(&a), 20 + 3 * 12);
    expect_header(&a, 0, 20, 3);
    const char *e = a.buf + 20;
    assert_int_equal(word(e), 8);
    assert_int_equal(word(e + 4), 0);
    assert_int_equal(word(e + 8), 1);
    assert_int_equal(word(e + 12 + 4), 0xffffffffu);
    assert_int_equal(word(e + 12 + 8), 0xfffffffeu);
    assert_memory_equal(e + 24 + 4, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    pg_array_free(&a);
    assert_null(a.buf);
}

static void test_int4_elements(void **state)
{
    (void)state;
    struct pg_array a;
    pg_array_init(&a, PG_INT4, 4);
    pg_array_add_int4(&a, 2);
    pg_array_add_int4(&a, -1);
    assert_int_equal(pg_array_finish(&a), 20 + 2 * 8);
    expect_header(&a, 0, 23, 2);
    assert_int_equal(word(a.buf + 20), 4);
    assert_int_equal(word(a.buf + 24), 2);
    assert_int_equal(word(a.buf + 32), 0xffffffffu);
    pg_array_free(&a);
}

static void test_text_verbatim_and_null(void **state)
{
    (void)state;
    struct pg_array a;
    pg_array_init(&a, PG_TEXT, 0);
    pg_array_add_text(&a, "say \"hi\" {,} C:\\dir");
    pg_array_add_text(&a, NULL);
    pg_array_add_text(&a, "NULL"); /* a string, not the SQL NULL */
    pg_array_add_text(&a, "");
    int len = pg_array_finish(&a);
    expect_header(&a, 1, 25, 4);
    const char *e = a.buf + 20;
    size_t first = strlen("say \"hi\" {,} C:\\dir");
    assert_int_equal(word(e), first);
    assert_memory_equal(e + 4, "say \"hi\" {,} C:\\dir", first); /* no quoting, no escapes */
    e += 4 + first;
    assert_int_equal(word(e), 0xffffffffu); /* NULL: length -1, no bytes */
    e += 4;
    assert_int_equal(word(e), 4);
    assert_memory_equal(e + 4, "NULL", 4);
    e += 8;
    assert_int_equal(word(e), 0);
    assert_int_equal(e + 4 - a.buf, len);
    pg_array_free(&a);
}

static void test_bytea_with_zero_bytes(void **state)
{
    (void)state;
    static const unsigned char hash[32] = {0, 1, 0, 0xff, [31] = 0};
    struct pg_array a;
    pg_array_init(&a, PG_BYTEA, 0);
    pg_array_add_bytes(&a, hash, sizeof(hash));
    pg_array_add_null(&a);
    assert_int_equal(pg_array_finish(&a), 20 + 4 + 32 + 4);
    expect_header(&a, 1, 17, 2);
    assert_int_equal(word(a.buf + 20), 32);
    assert_memory_equal(a.buf + 24, hash, 32);
    assert_int_equal(word(a.buf + 56), 0xffffffffu);
    pg_array_free(&a);
}

static void test_empty_array_has_no_dimensions(void **state)
{
    (void)state;
    struct pg_array a;
    pg_array_init(&a, PG_TEXT, 0);
    assert_int_equal(pg_array_finish(&a), 12);
    assert_int_equal(word(a.buf), 0);
    assert_int_equal(word(a.buf + 4), 0);
    assert_int_equal(word(a.buf + 8), 25);
    pg_array_free(&a);
}

static void test_grows_past_the_hint(void **state)
{
    (void)state;
    enum { N = 1000, LEN = 300 };
    static char text[LEN + 1];
    memset(text, 'x', LEN);
    struct pg_array a;
    pg_array_init(&a, PG_TEXT, 8);
    for (int i = 0; i < N; i++) {
        text[0] = (char)('a' + i % 26);
        pg_array_add_text(&a, text);
    }
    assert_int_equal(pg_array_finish(&a), 20 + N * (4 + LEN));
    expect_header(&a, 0, 25, N);
    const char *last = a.buf + 20 + (N - 1) * (4 + LEN);
    assert_int_equal(word(last), LEN);
    assert_int_equal(last[4], 'a' + (N - 1) % 26);
    pg_array_free(&a);
    pg_array_free(&a); /* a second free is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_elements_big_endian),
        cmocka_unit_test(test_int4_elements),
        cmocka_unit_test(test_text_verbatim_and_null),
        cmocka_unit_test(test_bytea_with_zero_bytes),
        cmocka_unit_test(test_empty_array_has_no_dimensions),
        cmocka_unit_test(test_grows_past_the_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
