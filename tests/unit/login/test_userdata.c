/* test_userdata.c -- rawData signature and encrypted user-data checks on
 * WeChat's published vectors (tests/unit/data/wechat-vectors.json, read
 * relative to the repository root) and on tampered variants built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "userdata.h"

#define VECTORS_PATH "tests/unit/data/wechat-vectors.json"

static json_t *vectors;

static const char *vec(const char *group, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(vectors, group), key));
    assert_non_null(s);
    return s;
}

static int load_vectors(void **state)
{
    (void)state;
    json_error_t err;
    vectors = json_load_file(VECTORS_PATH, 0, &err);
    if (!vectors)
        fprintf(stderr, "%s: %s (run from the repository root)\n", VECTORS_PATH, err.text);
    return vectors ? 0 : -1;
}

static int free_vectors(void **state)
{
    (void)state;
    json_decref(vectors);
    return 0;
}

/* Base64 of `plain` encrypted with key/iv (both base64), malloc'ed. */
static char *encrypt_b64(const char *key_b64, const char *iv_b64, const char *plain)
{
    unsigned char key[18], iv[18];
    size_t n;
    assert_int_equal(base64_decode(key_b64, strlen(key_b64), key, sizeof(key), &n), 0);
    assert_int_equal(n, 16);
    assert_int_equal(base64_decode(iv_b64, strlen(iv_b64), iv, sizeof(iv), &n), 0);
    assert_int_equal(n, 16);
    size_t len = strlen(plain), out_len;
    unsigned char *cipher = malloc(len + 16);
    assert_int_equal(crypto_aes128cbc_encrypt(key, iv, (const unsigned char *)plain, len, cipher,
                                              &out_len), 0);
    char *b64 = malloc(BASE64_ENCODED_LEN(out_len) + 1);
    base64_encode(cipher, out_len, b64);
    free(cipher);
    return b64;
}

static const char *OPENID = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";
static const char *APPID = "wx4f4bc4dec97d474b";

static void test_published_vector_decrypts(void **state)
{
    (void)state;
    json_t *out = NULL;
    enum userdata_status st = userdata_decrypt(vec("decrypt", "sessionKey"),
                                               vec("decrypt", "encryptedData"), vec("decrypt", "iv"),
                                               APPID, OPENID, &out);
    assert_int_equal(st, USERDATA_OK);
    assert_non_null(out);
    assert_string_equal(json_string_value(json_object_get(out, "nickName")), "Band");
    assert_string_equal(json_string_value(json_object_get(out, "unionId")),
                        "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
    json_decref(out);
    assert_int_equal(userdata_precheck(vec("decrypt", "encryptedData"), vec("decrypt", "iv")),
                     USERDATA_OK);
}

static void test_published_signature(void **state)
{
    (void)state;
    assert_true(userdata_signature_ok(vec("signature", "rawData"), vec("signature", "sessionKey"),
                                      vec("signature", "signature")));
}

static void test_bad_signature(void **state)
{
    (void)state;
    const char *raw = vec("signature", "rawData"), *key = vec("signature", "sessionKey");
    char sig[64];
    snprintf(sig, sizeof(sig), "%s", vec("signature", "signature"));
    sig[0] = sig[0] == '0' ? '1' : '0';
    assert_false(userdata_signature_ok(raw, key, sig));
    assert_false(userdata_signature_ok(raw, key, ""));
    assert_false(userdata_signature_ok(raw, key, "75e81ceda165f4ffa64f4068af58c64b8f54b88")); /* short */
    assert_false(userdata_signature_ok(raw, "tiihtNczf5v6AKRyjwEUhQ==", vec("signature", "signature")));
    char tampered[4096];
    snprintf(tampered, sizeof(tampered), "%s ", raw);
    assert_false(userdata_signature_ok(tampered, key, vec("signature", "signature")));
    /* Upper-case hex is the same signature. */
    snprintf(sig, sizeof(sig), "%s", "75E81CEDA165F4FFA64F4068AF58C64B8F54B88C");
    assert_true(userdata_signature_ok(raw, key, sig));
}

static void test_wrong_key_is_padding_error(void **state)
{
    (void)state;
    json_t *out = (json_t *)1;
    enum userdata_status st = userdata_decrypt("HyVFkGl5F5OQWJZZaNzBBg==", vec("decrypt", "encryptedData"),
                                               vec("decrypt", "iv"), APPID, OPENID, &out);
    assert_int_equal(st, USERDATA_BAD_PADDING);
    assert_null(out);
    assert_int_equal(userdata_http_status(st), 400);
}

static void test_bad_padding(void **state)
{
    (void)state;
    /* Flip a bit of the second-to-last block: the last block's padding breaks. */
    const char *enc = vec("decrypt", "encryptedData");
    size_t len = strlen(enc), n;
    unsigned char *raw = malloc(len);
    assert_int_equal(base64_decode(enc, len, raw, len, &n), 0);
    raw[n - 17] ^= 0x01;
    char *b64 = malloc(BASE64_ENCODED_LEN(n) + 1);
    base64_encode(raw, n, b64);
    json_t *out = NULL;
    assert_int_equal(userdata_decrypt(vec("decrypt", "sessionKey"), b64, vec("decrypt", "iv"), APPID,
                                      OPENID, &out),
                     USERDATA_BAD_PADDING);
    assert_null(out);
    free(raw);
    free(b64);
}

static void test_watermark_and_openid_mismatch(void **state)
{
    (void)state;
    json_t *out = NULL;
    enum userdata_status st = userdata_decrypt(vec("decrypt", "sessionKey"), vec("decrypt", "encryptedData"),
                                               vec("decrypt", "iv"), "wx0000000000000000", OPENID, &out);
    assert_int_equal(st, USERDATA_WATERMARK_MISMATCH);
    assert_int_equal(userdata_http_status(st), 401);
    assert_null(out);
    st = userdata_decrypt(vec("decrypt", "sessionKey"), vec("decrypt", "encryptedData"),
                          vec("decrypt", "iv"), APPID, "oSomebodyElse", &out);
    assert_int_equal(st, USERDATA_OPENID_MISMATCH);
    assert_int_equal(userdata_http_status(st), 401);
    assert_null(out);
}

static void check_plaintext(const char *plain, enum userdata_status want)
{
    const char *key = vec("decrypt", "sessionKey"), *iv = vec("decrypt", "iv");
    char *enc = encrypt_b64(key, iv, plain);
    json_t *out = NULL;
    assert_int_equal(userdata_decrypt(key, enc, iv, APPID, OPENID, &out), want);
    if (want == USERDATA_OK)
        assert_non_null(out);
    else
        assert_null(out);
    json_decref(out);
    free(enc);
}

static void test_plaintexts(void **state)
{
    (void)state;
    check_plaintext("not json", USERDATA_NOT_JSON);
    check_plaintext("[1,2]", USERDATA_NOT_JSON);
    check_plaintext("{\"nickName\":\"x\",\"watermark\":{\"appid\":\"wx4f4bc4dec97d474b\"}}",
                    USERDATA_NO_OPENID);
    check_plaintext("{\"openId\":42,\"watermark\":{\"appid\":\"wx4f4bc4dec97d474b\"}}",
                    USERDATA_NO_OPENID);
    check_plaintext("{\"openId\":\"oGZUI0egBJY1zhBYw2KhdUfwVJJE\"}", USERDATA_WATERMARK_MISMATCH);
    check_plaintext("{\"openId\":\"oGZUI0egBJY1zhBYw2KhdUfwVJJE\",\"watermark\":{\"appid\":7}}",
                    USERDATA_WATERMARK_MISMATCH);
    check_plaintext("{\"openId\":\"oGZUI0egBJY1zhBYw2KhdUfwVJJE\",\"watermark\":{\"appid\":\"wx4f4bc4dec97d474b\"}}",
                    USERDATA_OK);
}

static void test_precheck(void **state)
{
    (void)state;
    const char *iv = vec("decrypt", "iv"), *enc = vec("decrypt", "encryptedData");
    assert_int_equal(userdata_precheck("not*base64!", iv), USERDATA_BAD_BASE64);
    assert_int_equal(userdata_precheck(enc, "%%%%"), USERDATA_BAD_BASE64);
    assert_int_equal(userdata_precheck(enc, "AAAAAAAAAAAAAAAAAAAAA=A="), USERDATA_BAD_BASE64);
    assert_int_equal(userdata_precheck(enc, "AAAAAAAAAAAAAAAAAAAA"), USERDATA_BAD_IV); /* 15 bytes */
    assert_int_equal(userdata_precheck("AAAA", iv), USERDATA_BAD_LENGTH);         /* 3 bytes */
    assert_int_equal(userdata_precheck(enc, iv), USERDATA_OK);
    assert_int_equal(userdata_http_status(USERDATA_BAD_IV), 400);
    assert_non_null(userdata_message(USERDATA_BAD_IV));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vector_decrypts),
        cmocka_unit_test(test_published_signature),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_wrong_key_is_padding_error),
        cmocka_unit_test(test_bad_padding),
        cmocka_unit_test(test_watermark_and_openid_mismatch),
        cmocka_unit_test(test_plaintexts),
        cmocka_unit_test(test_precheck),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
