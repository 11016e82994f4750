/* test_base64.c -- strict base64 (shared/crypto.c): RFC 4648 vectors, round
 * trips of every length, and every kind of input the decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "crypto.h"

/* Decode a NUL-terminated string into buf (cap bytes); returns the status. */
static int decode(const char *text, unsigned char *buf, size_t cap, size_t *out_len)
{
    return base64_decode(text, strlen(text), buf, cap, out_len);
}

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        char enc[16];
        size_t n = base64_encode((const unsigned char *)plain[i], strlen(plain[i]), enc);
        assert_int_equal(n, strlen(coded[i]));
        assert_string_equal(enc, coded[i]);

        unsigned char dec[16];
        size_t dec_len = 999;
        assert_int_equal(decode(coded[i], dec, sizeof(dec), &dec_len), 0);
        assert_int_equal(dec_len, strlen(plain[i]));
        assert_memory_equal(dec, plain[i], dec_len);
    }
}

static void test_round_trip_every_length_and_byte(void **state)
{
    (void)state;
    unsigned char in[300], out[300];
    char enc[BASE64_ENCODED_LEN(300) + 1];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 7 + 3); /* every byte value appears */
    for (size_t len = 0; len <= sizeof(in); len++) {
        size_t n = base64_encode(in, len, enc);
        assert_int_equal(n, BASE64_ENCODED_LEN(len));
        assert_int_equal(strlen(enc), n);
        size_t out_len = 0;
        assert_int_equal(base64_decode(enc, n, out, sizeof(out), &out_len), 0);
        assert_int_equal(out_len, len);
        assert_memory_equal(out, in, len);
        assert_true(BASE64_DECODED_MAX(n) >= len);
    }
}

static void test_high_bytes_use_plus_and_slash(void **state)
{
    (void)state;
    const unsigned char in[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    base64_encode(in, sizeof(in), enc);
    assert_string_equal(enc, "+/+/");
    unsigned char out[3];
    size_t out_len;
    assert_int_equal(decode("+/+/", out, sizeof(out), &out_len), 0);
    assert_memory_equal(out, in, 3);
}

static void test_rejects_bad_characters(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Zm9v!A==", /* not in the alphabet */
        "Zm-v",     /* URL-safe alphabet */
        "Zm_v",     /* URL-safe alphabet */
        "Zm9 ",     /* whitespace */
        "Zm9v\nYg==", "Zm9v Yg==", "Zm9\tv",
        "\xc3\xa9Zm9", /* non-ASCII */
        /* each place of a group before the last one, padding included */
        "!m9vYg==", "Z!9vYg==", "Zm!vYg==", "Zm9!Yg==", "Zm9=Yg==", "=m9vYg==",
    };
    unsigned char out[32];
    size_t out_len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode(bad[i], out, sizeof(out), &out_len), -1);
    /* An embedded NUL is a bad character too (length given explicitly). */
    assert_int_equal(base64_decode("Zm\0v", 4, out, sizeof(out), &out_len), -1);
}

static void test_rejects_bad_length(void **state)
{
    (void)state;
    static const char *const bad[] = {"Z", "Zm", "Zm9", "Zm9vY", "Zm9vYg=", "Zg=", "Zm9vYmFy="};
    unsigned char out[32];
    size_t out_len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode(bad[i], out, sizeof(out), &out_len), -1);
}

static void test_rejects_bad_padding(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "====",         /* nothing but padding */
        "Z===",         /* three padding characters */
        "=Zm9",         /* padding first */
        "Zm=v",         /* padding inside a block */
        "Z=g=",         /* padding between data */
        "Zg==Zm9v",     /* padding before the last block */
        "Zm8=Zm8=",     /* padding before the last block */
        "Zm9vYg=\0",    /* wrong character where padding belongs */
    };
    unsigned char out[32];
    size_t out_len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(base64_decode(bad[i], i == 7 ? 8 : strlen(bad[i]), out, sizeof(out),
                                       &out_len),
                         -1);
}

static void test_rejects_non_canonical_trailing_bits(void **state)
{
    (void)state;
    unsigned char out[8];
    size_t out_len;
    /* "Zg==" is 'f'; 'h' leaves a 1 in the bits the padding drops. */
    assert_int_equal(decode("Zg==", out, sizeof(out), &out_len), 0);
    assert_int_equal(decode("Zh==", out, sizeof(out), &out_len), -1);
    assert_int_equal(decode("Zv==", out, sizeof(out), &out_len), -1);
    /* "Zm8=" is "fo"; '9' = 111101 leaves the low bits 01. */
    assert_int_equal(decode("Zm8=", out, sizeof(out), &out_len), 0);
    assert_int_equal(decode("Zm9=", out, sizeof(out), &out_len), -1);
    assert_int_equal(decode("Zm/=", out, sizeof(out), &out_len), -1);
}

static void test_rejects_too_small_buffer(void **state)
{
    (void)state;
    unsigned char out[6];
    size_t out_len = 12345;
    assert_int_equal(decode("Zm9vYmFy", out, 5, &out_len), -1);
    assert_int_equal(decode("Zm9vYmFy", out, 6, &out_len), 0);
    assert_int_equal(out_len, 6);
    assert_int_equal(decode("Zm9vYg==", out, 3, &out_len), -1);
    assert_int_equal(decode("Zm9vYg==", out, 4, &out_len), 0);
    assert_int_equal(out_len, 4);
    assert_int_equal(decode("Zg==", out, 0, &out_len), -1);
}

/* A 16-byte AES key or IV is 24 characters with "==": the sizes login uses. */
static void test_sixteen_bytes(void **state)
{
    (void)state;
    unsigned char out[BASE64_DECODED_MAX(24)];
    size_t out_len;
    assert_int_equal(decode("tiihtNczf5v6AKRyjwEUhQ==", out, sizeof(out), &out_len), 0);
    assert_int_equal(out_len, 16);
    assert_int_equal(out[0], 0xb6);
    assert_int_equal(out[15], 0x85);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_round_trip_every_length_and_byte),
        cmocka_unit_test(test_high_bytes_use_plus_and_slash),
        cmocka_unit_test(test_rejects_bad_characters),
        cmocka_unit_test(test_rejects_bad_length),
        cmocka_unit_test(test_rejects_bad_padding),
        cmocka_unit_test(test_rejects_non_canonical_trailing_bits),
        cmocka_unit_test(test_rejects_too_small_buffer),
        cmocka_unit_test(test_sixteen_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
