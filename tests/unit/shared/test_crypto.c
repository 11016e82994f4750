/* test_crypto.c -- shared/crypto.c against WeChat's published vectors
 * (tests/unit/data/wechat-vectors.json, read relative to the repository root,
 * the working directory of tests/run.sh), AES-128-CBC padding checks,
 * SHA-1/SHA-256 known answers, constant-time comparison and CSPRNG tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define VECTORS_PATH "tests/unit/data/wechat-vectors.json"

static json_t *vectors;

static int load_vectors(void **state)
{
    (void)state;
    json_error_t err;
    vectors = json_load_file(VECTORS_PATH, 0, &err);
    if (!vectors)
        fprintf(stderr, "cannot read %s (run from the repository root): %s\n", VECTORS_PATH,
                err.text);
    return vectors ? 0 : -1;
}

static int free_vectors(void **state)
{
    (void)state;
    json_decref(vectors);
    return 0;
}

/* The string at vectors.section.key; fails the test when missing. */
static const char *vec(const char *section, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(vectors, section), key));
    assert_non_null(s);
    return s;
}

/* base64-decode a string that must be valid; returns the length. */
static size_t b64(const char *text, unsigned char *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(base64_decode(text, strlen(text), out, cap, &n), 0);
    return n;
}

struct wechat_cipher {
    unsigned char key[16], iv[16];
    unsigned char data[1024];
    size_t data_len;
};

static void load_cipher(struct wechat_cipher *c)
{
    assert_int_equal(b64(vec("decrypt", "sessionKey"), c->key, sizeof(c->key)), 16);
    assert_int_equal(b64(vec("decrypt", "iv"), c->iv, sizeof(c->iv)), 16);
    c->data_len = b64(vec("decrypt", "encryptedData"), c->data, sizeof(c->data));
}

static void test_wechat_decrypt_vector(void **state)
{
    (void)state;
    struct wechat_cipher c;
    load_cipher(&c);
    unsigned char plain[1024];
    size_t plain_len = 0;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), 0);
    const char *expected = vec("decrypt", "plaintext");
    assert_int_equal(plain_len, strlen(expected));
    assert_memory_equal(plain, expected, plain_len);

    /* What login does with it: the watermark names the app id. */
    json_error_t err;
    json_t *user = json_loadb((const char *)plain, plain_len, 0, &err);
    assert_non_null(user);
    assert_string_equal(json_string_value(json_object_get(json_object_get(user, "watermark"), "appid")),
                        vec("decrypt", "appId"));
    assert_string_equal(json_string_value(json_object_get(user, "openId")),
                        "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    json_decref(user);
}

static void test_wechat_decrypt_wrong_iv_garbles_first_block_only(void **state)
{
    (void)state;
    struct wechat_cipher c;
    load_cipher(&c);
    c.iv[0] ^= 1;
    unsigned char plain[1024];
    size_t plain_len = 0;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), 0);
    const char *expected = vec("decrypt", "plaintext");
    assert_int_equal(plain[0], expected[0] ^ 1);
    assert_memory_equal(plain + 1, expected + 1, plain_len - 1);
}

/* The vector's plaintext is 393 bytes: 7 bytes of padding in the last block.
 * Flipping bits of the previous ciphertext block flips the same plaintext
 * bits, so the padding can be set to any value. */
static void test_padding_checked_in_full(void **state)
{
    (void)state;
    struct wechat_cipher c;
    unsigned char plain[1024];
    size_t plain_len;
    size_t last = 0;

    load_cipher(&c);
    last = c.data_len - 16 - 1; /* the byte above the padding length byte */
    assert_int_equal(c.data_len, 400);

    /* Padding length byte 7 -> 0: invalid. */
    c.data[last] ^= 7 ^ 0;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), -1);
    /* 7 -> 17: over the block size, invalid. */
    load_cipher(&c);
    c.data[last] ^= 7 ^ 17;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), -1);
    /* 7 -> 6: the byte before it is 7, not 6: invalid. */
    load_cipher(&c);
    c.data[last] ^= 7 ^ 6;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), -1);
    /* 7 -> 1: valid padding, one byte stripped. */
    load_cipher(&c);
    c.data[last] ^= 7 ^ 1;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), 0);
    assert_int_equal(plain_len, 399);

    /* Correct length byte, but another padding byte differs: invalid. */
    load_cipher(&c);
    c.data[last - 3] ^= 0x40;
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), -1);
    load_cipher(&c);
    c.data[last - 6] ^= 0x01; /* the first of the seven */
    assert_int_equal(crypto_aes128cbc_decrypt(c.key, c.iv, c.data, c.data_len, plain, &plain_len), -1);
}

/* Encrypt one block P with IV 0 and keep the first ciphertext block: its
 * decryption with IV 0 is exactly P, whatever padding P ends with. */
static int decrypt_crafted_block(const unsigned char p[16], size_t *out_len)
{
    static const unsigned char key[16] = "0123456789abcdef";
    static const unsigned char zero[16] = {0};
    unsigned char ct[32], pt[16];
    size_t ct_len = 0;
    assert_int_equal(crypto_aes128cbc_encrypt(key, zero, p, 16, ct, &ct_len), 0);
    assert_int_equal(ct_len, 32);
    int rc = crypto_aes128cbc_decrypt(key, zero, ct, 16, pt, out_len);
    if (rc == 0)
        assert_memory_equal(pt, p, *out_len);
    return rc;
}

static void test_padding_crafted_blocks(void **state)
{
    (void)state;
    unsigned char p[16];
    size_t n = 0;

    memset(p, 16, 16); /* a whole block of padding: empty plaintext */
    assert_int_equal(decrypt_crafted_block(p, &n), 0);
    assert_int_equal(n, 0);

    memset(p, 'x', 16);
    p[15] = 1;
    assert_int_equal(decrypt_crafted_block(p, &n), 0);
    assert_int_equal(n, 15);

    p[15] = 0; /* zero is never valid padding */
    assert_int_equal(decrypt_crafted_block(p, &n), -1);
    p[15] = 17;
    assert_int_equal(decrypt_crafted_block(p, &n), -1);
    p[15] = 0xff;
    assert_int_equal(decrypt_crafted_block(p, &n), -1);
    p[15] = 2; /* 'x' 2: inconsistent */
    assert_int_equal(decrypt_crafted_block(p, &n), -1);
    p[14] = 2;
    assert_int_equal(decrypt_crafted_block(p, &n), 0);
    assert_int_equal(n, 14);
    memset(p, 16, 16);
    p[0] = 15; /* length 16, but the first byte is 15 */
    assert_int_equal(decrypt_crafted_block(p, &n), -1);
}

static void test_aes_rejects_bad_lengths(void **state)
{
    (void)state;
    unsigned char key[16] = {0}, iv[16] = {0}, in[64] = {0}, out[64];
    size_t n;
    assert_int_equal(crypto_aes128cbc_decrypt(key, iv, in, 0, out, &n), -1);
    assert_int_equal(crypto_aes128cbc_decrypt(key, iv, in, 15, out, &n), -1);
    assert_int_equal(crypto_aes128cbc_decrypt(key, iv, in, 17, out, &n), -1);
    assert_int_equal(crypto_aes128cbc_decrypt(key, iv, in, 33, out, &n), -1);
}

static void test_aes_round_trip(void **state)
{
    (void)state;
    unsigned char key[16], iv[16], in[64], ct[80], pt[80];
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)(i * 11), iv[i] = (unsigned char)(255 - i);
    for (int i = 0; i < 64; i++)
        in[i] = (unsigned char)(i * 37);
    for (size_t len = 0; len <= 64; len++) {
        size_t ct_len = 0, pt_len = 0;
        assert_int_equal(crypto_aes128cbc_encrypt(key, iv, in, len, ct, &ct_len), 0);
        assert_int_equal(ct_len, (len / 16 + 1) * 16);
        assert_int_equal(crypto_aes128cbc_decrypt(key, iv, ct, ct_len, pt, &pt_len), 0);
        assert_int_equal(pt_len, len);
        assert_memory_equal(pt, in, len);
    }
}

static void test_wechat_signature_vector(void **state)
{
    (void)state;
    const char *raw = vec("signature", "rawData");
    const char *key = vec("signature", "sessionKey");
    char hex[CRYPTO_SHA1_HEX_LEN + 1];
    assert_int_equal(crypto_sha1_hex2(raw, strlen(raw), key, strlen(key), hex), 0);
    assert_string_equal(hex, vec("signature", "signature"));
    assert_true(crypto_equal_str(hex, vec("signature", "signature")));

    /* One changed character of the raw data changes the signature. */
    char *tampered = strdup(raw);
    assert_non_null(tampered);
    tampered[strlen(tampered) - 2] ^= 1;
    assert_int_equal(crypto_sha1_hex2(tampered, strlen(tampered), key, strlen(key), hex), 0);
    assert_false(crypto_equal_str(hex, vec("signature", "signature")));
    free(tampered);
}

static void test_sha1_known_answers(void **state)
{
    (void)state;
    char hex[CRYPTO_SHA1_HEX_LEN + 1];
    assert_int_equal(crypto_sha1_hex2("a", 1, "bc", 2, hex), 0);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_int_equal(crypto_sha1_hex2("", 0, "", 0, hex), 0);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_sha256_known_answers(void **state)
{
    (void)state;
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const unsigned char empty[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    unsigned char md[CRYPTO_SHA256_LEN];
    assert_int_equal(crypto_sha256("abc", 3, md), 0);
    assert_memory_equal(md, abc, 32);
    assert_int_equal(crypto_sha256("", 0, md), 0);
    assert_memory_equal(md, empty, 32);
}

static void test_constant_time_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abcdef", "abcdef", 6));
    assert_false(crypto_equal("abcdef", "abcdeg", 6));
    assert_false(crypto_equal("Xbcdef", "abcdef", 6));
    assert_true(crypto_equal("abc", "abd", 2)); /* only len bytes count */
    assert_true(crypto_equal("a", "b", 0));

    assert_true(crypto_equal_str("", ""));
    assert_true(crypto_equal_str("skey", "skey"));
    assert_false(crypto_equal_str("skey", "skeY"));
    assert_false(crypto_equal_str("skey", "ske"));  /* prefix */
    assert_false(crypto_equal_str("ske", "skey"));
    assert_false(crypto_equal_str("", "a"));
}

static void assert_lower_hex(const char *s, size_t len)
{
    assert_int_equal(strlen(s), len);
    for (size_t i = 0; i < len; i++)
        assert_non_null(strchr("0123456789abcdef", s[i]));
}

static void test_random_hex(void **state)
{
    (void)state;
    char a[65], b[65];
    memset(a, 'Z', sizeof(a));
    assert_int_equal(crypto_random_hex(a, 16), 0);
    assert_lower_hex(a, 32);
    assert_int_equal(crypto_random_hex(b, 16), 0);
    assert_lower_hex(b, 32);
    assert_string_not_equal(a, b);

    assert_int_equal(crypto_random_hex(a, 32), 0);
    assert_lower_hex(a, 64);
    assert_int_equal(crypto_random_hex(b, 32), 0);
    assert_lower_hex(b, 64);
    assert_string_not_equal(a, b);

    /* A long token: either refused or complete, never short or overflowed. */
    char big[2 * 65 + 1];
    if (crypto_random_hex(big, 65) == 0)
        assert_lower_hex(big, 130);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wechat_decrypt_vector),
        cmocka_unit_test(test_wechat_decrypt_wrong_iv_garbles_first_block_only),
        cmocka_unit_test(test_padding_checked_in_full),
        cmocka_unit_test(test_padding_crafted_blocks),
        cmocka_unit_test(test_aes_rejects_bad_lengths),
        cmocka_unit_test(test_aes_round_trip),
        cmocka_unit_test(test_wechat_signature_vector),
        cmocka_unit_test(test_sha1_known_answers),
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_constant_time_equal),
        cmocka_unit_test(test_random_hex),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
