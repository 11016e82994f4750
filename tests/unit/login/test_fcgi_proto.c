/* test_fcgi_proto.c -- the FastCGI wire format of login-fcgi/fcgi_proto.c:
 * record headers survive encode/decode (type, request id and content
 * length up to 65535, padding, big-endian byte order); BEGIN_REQUEST
 * bodies give the role and the keep-conn flag and must be 8 bytes;
 * END_REQUEST and UNKNOWN_TYPE records come out byte for byte as the
 * specification lays them out; name-value pairs are read with 1-byte and
 * 4-byte lengths (127/128 boundary, the high bit masked off), refused when
 * a length runs past the buffer, and written back the same way, never
 * touching the output when they do not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fcgi_proto.h"

/* Assert that pair_next reads one pair name=value from buf at *pos. */
static void expect_pair(const unsigned char *buf, size_t len, size_t *pos, const char *name,
                        size_t name_len, const char *value, size_t value_len)
{
    struct fcgi_pair pair;
    assert_int_equal(fcgi_pair_next(buf, len, pos, &pair), 1);
    assert_int_equal(pair.name_len, name_len);
    assert_int_equal(pair.value_len, value_len);
    assert_memory_equal(pair.name, name, name_len);
    if (value_len > 0)
        assert_memory_equal(pair.value, value, value_len);
}

/* Assert that pair_next refuses buf with rc and leaves *pos alone. */
static void expect_no_pair(const unsigned char *buf, size_t len, size_t pos, int rc)
{
    struct fcgi_pair pair;
    size_t at = pos;
    assert_int_equal(fcgi_pair_next(buf, len, &at, &pair), rc);
    assert_int_equal(at, pos);
}

static void test_header_round_trip(void **state)
{
    (void)state;
    static const struct fcgi_header cases[] = {
        {FCGI_VERSION, FCGI_BEGIN_REQUEST, 1, 8, 0},
        {FCGI_VERSION, FCGI_STDOUT, 65535, 65535, 255},
        {FCGI_VERSION, FCGI_PARAMS, 256, 256, 7},
        {FCGI_VERSION, FCGI_GET_VALUES, 0, 0, 0},
        {FCGI_VERSION, 200, 255, 255, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct fcgi_header *c = &cases[i];
        unsigned char p[FCGI_HEADER_LEN + 1];
        memset(p, 0xee, sizeof(p));
        fcgi_header_encode(p, c->type, c->request_id, c->content_length, c->padding_length);
        assert_int_equal(p[0], FCGI_VERSION);
        assert_int_equal(p[7], 0);    /* reserved */
        assert_int_equal(p[8], 0xee); /* nothing past the header */
        struct fcgi_header h;
        fcgi_header_decode(p, &h);
        assert_int_equal(h.version, FCGI_VERSION);
        assert_int_equal(h.type, c->type);
        assert_int_equal(h.request_id, c->request_id);
        assert_int_equal(h.content_length, c->content_length);
        assert_int_equal(h.padding_length, c->padding_length);
    }
    /* Big-endian: high byte first. */
    unsigned char p[FCGI_HEADER_LEN];
    fcgi_header_encode(p, FCGI_STDIN, 0x1234, 0xabcd, 0x56);
    const unsigned char want[] = {1, FCGI_STDIN, 0x12, 0x34, 0xab, 0xcd, 0x56, 0};
    assert_memory_equal(p, want, sizeof(want));
    /* Decoding takes the version as it is, for the caller to check. */
    const unsigned char v2[] = {2, FCGI_STDIN, 0xff, 0xfe, 0x01, 0x02, 3, 0xff};
    struct fcgi_header h;
    fcgi_header_decode(v2, &h);
    assert_int_equal(h.version, 2);
    assert_int_equal(h.request_id, 0xfffe);
    assert_int_equal(h.content_length, 0x0102);
    assert_int_equal(h.padding_length, 3);
}

static void test_begin_decode(void **state)
{
    (void)state;
    unsigned role = 99, flags = 99;
    const unsigned char keep[8] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN, 0, 0, 0, 0, 0};
    assert_int_equal(fcgi_begin_decode(keep, sizeof(keep), &role, &flags), 0);
    assert_int_equal(role, FCGI_RESPONDER);
    assert_int_equal(flags & FCGI_KEEP_CONN, FCGI_KEEP_CONN);

    const unsigned char other[8] = {0x01, 0x02, 0, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(fcgi_begin_decode(other, sizeof(other), &role, &flags), 0);
    assert_int_equal(role, 0x0102);
    assert_int_equal(flags & FCGI_KEEP_CONN, 0);

    const unsigned char nine[9] = {0, FCGI_RESPONDER, FCGI_KEEP_CONN};
    assert_int_equal(fcgi_begin_decode(nine, 7, &role, &flags), -1);
    assert_int_equal(fcgi_begin_decode(nine, 9, &role, &flags), -1);
    assert_int_equal(fcgi_begin_decode(nine, 0, &role, &flags), -1);
}

static void test_end_encode(void **state)
{
    (void)state;
    unsigned char p[FCGI_END_RECORD_LEN + 1];
    memset(p, 0xee, sizeof(p));
    fcgi_end_encode(p, 0x0102, 0xa1b2c3d4, FCGI_CANT_MPX_CONN);
    /* Header (version, type, id, length 8, no padding, reserved), then
     * appStatus (4 bytes, big-endian), protocolStatus, 3 reserved. */
    const unsigned char want[FCGI_END_RECORD_LEN + 1] = {
        1, FCGI_END_REQUEST, 0x01, 0x02, 0, 8, 0, 0,         /* header */
        0xa1, 0xb2, 0xc3, 0xd4, FCGI_CANT_MPX_CONN, 0, 0, 0, /* body */
        0xee};
    assert_memory_equal(p, want, sizeof(want));

    fcgi_end_encode(p, 65535, 0, FCGI_REQUEST_COMPLETE);
    const unsigned char done[FCGI_END_RECORD_LEN] = {
        1, FCGI_END_REQUEST, 0xff, 0xff, 0, 8, 0, 0, 0, 0, 0, 0, FCGI_REQUEST_COMPLETE, 0, 0, 0};
    assert_memory_equal(p, done, sizeof(done));
}

static void test_unknown_encode(void **state)
{
    (void)state;
    unsigned char p[FCGI_UNKNOWN_RECORD_LEN + 1];
    memset(p, 0xee, sizeof(p));
    fcgi_unknown_encode(p, 42);
    /* Management record (id 0), body: the type, 7 reserved bytes. */
    const unsigned char want[FCGI_UNKNOWN_RECORD_LEN + 1] = {
        1, FCGI_UNKNOWN_TYPE, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 0xee};
    assert_memory_equal(p, want, sizeof(want));
}

static void test_pair_lengths(void **state)
{
    (void)state;
    unsigned char buf[1 + 4 + 127 + 128];
    char name[127], value[128];
    memset(name, 'n', sizeof(name));
    memset(value, 'v', sizeof(value));
    /* 127: the longest one-byte length; 128: the shortest four-byte one. */
    size_t len = 0;
    buf[len++] = 127;
    buf[len++] = 0x80, buf[len++] = 0, buf[len++] = 0, buf[len++] = 128;
    memcpy(buf + len, name, sizeof(name));
    len += sizeof(name);
    memcpy(buf + len, value, sizeof(value));
    len += sizeof(value);
    size_t pos = 0;
    expect_pair(buf, len, &pos, name, sizeof(name), value, sizeof(value));
    assert_int_equal(pos, len);
    expect_no_pair(buf, len, pos, 0);

    /* A four-byte length may hold a small value; its high bit is a flag,
     * not part of the length: 0x80 0 0 3 is 3, 0x81 0 0 0 is 2^24. */
    const unsigned char small[] = {0x80, 0, 0, 3, 0x80, 0, 0, 1, 'a', 'b', 'c', 'd'};
    pos = 0;
    expect_pair(small, sizeof(small), &pos, "abc", 3, "d", 1);
    assert_int_equal(pos, sizeof(small));
    const unsigned char huge[] = {0x81, 0, 0, 0, 0, 'x'};
    expect_no_pair(huge, sizeof(huge), 0, -1);
    const unsigned char widest[] = {0xff, 0xff, 0xff, 0xff, 0};
    expect_no_pair(widest, sizeof(widest), 0, -1);
}

static void test_pair_past_end(void **state)
{
    (void)state;
    const unsigned char buf[] = {3, 5, 'a', 'b', 'c', 'h', 'e', 'l', 'l', 'o'};
    /* Every proper prefix is refused, pos unchanged. */
    for (size_t len = 1; len < sizeof(buf); len++)
        expect_no_pair(buf, len, 0, -1);
    size_t pos = 0;
    expect_pair(buf, sizeof(buf), &pos, "abc", 3, "hello", 5);
    /* A four-byte length cut short. */
    const unsigned char cut[] = {0x80, 0, 0};
    expect_no_pair(cut, sizeof(cut), 0, -1);
    const unsigned char cut_value[] = {1, 0x80, 0, 0, 'a'};
    expect_no_pair(cut_value, sizeof(cut_value), 0, -1);
    /* The name fits but not the value. */
    const unsigned char value_over[] = {1, 2, 'a', 'b'};
    expect_no_pair(value_over, sizeof(value_over), 0, -1);
}

static void test_pair_empty_buffer(void **state)
{
    (void)state;
    const unsigned char buf[] = {1, 0, 'a'};
    expect_no_pair(NULL, 0, 0, 0);
    expect_no_pair(buf, 0, 0, 0);
    expect_no_pair(buf, sizeof(buf), sizeof(buf), 0); /* at the end */
}

static void test_pair_sequence(void **state)
{
    (void)state;
    const unsigned char buf[] = {
        14, 4, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D', /* name */
        'P', 'O', 'S', 'T',  /* REQUEST_METHOD=POST */
        1, 0, 'E',           /* E= (empty value) */
        0, 0,                /* = (empty name and value) */
        2, 1, 'A', 'B', 'c', /* AB=c */
    };
    size_t pos = 0;
    expect_pair(buf, sizeof(buf), &pos, "REQUEST_METHOD", 14, "POST", 4);
    expect_pair(buf, sizeof(buf), &pos, "E", 1, "", 0);
    expect_pair(buf, sizeof(buf), &pos, "", 0, "", 0);
    expect_pair(buf, sizeof(buf), &pos, "AB", 2, "c", 1);
    assert_int_equal(pos, sizeof(buf));
    expect_no_pair(buf, sizeof(buf), pos, 0);
}

/* Encode name=value with fcgi_pair_encode after `used` bytes of out and
 * read it back with fcgi_pair_next. Returns the encoded size. */
static size_t round_trip(unsigned char *out, size_t cap, size_t used, const char *name,
                         const char *value)
{
    size_t start = used;
    assert_int_equal(fcgi_pair_encode(out, cap, &used, name, value), 0);
    size_t pos = start;
    expect_pair(out, used, &pos, name, strlen(name), value, strlen(value));
    assert_int_equal(pos, used);
    return used - start;
}

static void test_pair_encode(void **state)
{
    (void)state;
    static unsigned char out[4096];
    static char n127[128], n128[129], v300[301];
    memset(n127, 'a', 127);
    memset(n128, 'b', 128);
    memset(v300, 'c', 300);
    assert_int_equal(round_trip(out, sizeof(out), 0, "", ""), 2);
    assert_int_equal(round_trip(out, sizeof(out), 0, "A", "b"), 4);
    assert_int_equal(round_trip(out, sizeof(out), 0, n127, "x"), 1 + 1 + 127 + 1);
    assert_int_equal(round_trip(out, sizeof(out), 0, n128, "x"), 4 + 1 + 128 + 1);
    const unsigned char len128[] = {0x80, 0, 0, 128, 1};
    assert_memory_equal(out, len128, sizeof(len128));
    assert_int_equal(round_trip(out, sizeof(out), 0, "x", v300), 1 + 4 + 1 + 300);
    const unsigned char len300[] = {1, 0x80, 0, 0x01, 0x2c, 'x'};
    assert_memory_equal(out, len300, sizeof(len300));
    /* Appended after what is there already. */
    assert_int_equal(round_trip(out, sizeof(out), 17, "NAME", "value"), 11);
}

static void test_pair_encode_refused(void **state)
{
    (void)state;
    unsigned char out[64], before[64];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (unsigned char)(0xa0 + i);
    memcpy(before, out, sizeof(out));
    /* "NAME"="value" takes 11 bytes. */
    size_t used = 5;
    assert_int_equal(fcgi_pair_encode(out, 5 + 10, &used, "NAME", "value"), -1);
    assert_int_equal(used, 5);
    assert_memory_equal(out, before, sizeof(out));
    used = 15;
    assert_int_equal(fcgi_pair_encode(out, 15, &used, "NAME", "value"), -1); /* full */
    assert_int_equal(used, 15);
    assert_memory_equal(out, before, sizeof(out));
    /* Exactly enough room. */
    used = 5;
    assert_int_equal(fcgi_pair_encode(out, 5 + 11, &used, "NAME", "value"), 0);
    assert_int_equal(used, 16);
    assert_memory_equal(out, before, 5);
    assert_memory_equal(out + 16, before + 16, sizeof(out) - 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_begin_decode),
        cmocka_unit_test(test_end_encode),
        cmocka_unit_test(test_unknown_encode),
        cmocka_unit_test(test_pair_lengths),
        cmocka_unit_test(test_pair_past_end),
        cmocka_unit_test(test_pair_empty_buffer),
        cmocka_unit_test(test_pair_sequence),
        cmocka_unit_test(test_pair_encode),
        cmocka_unit_test(test_pair_encode_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
