/* fuzz_login_userdata.c -- libFuzzer target for the user-data checks of a
 * login (userdata.h): strict base64, AES-128-CBC decryption with PKCS#7,
 * the decrypted JSON's openId and watermark, the rawData signature.
 *
 * The first input byte picks a mode:
 *  - even: the rest is "session_key\nencrypted\niv\nappid\nopenid\nraw\nsig",
 *    strings as a client (or WeChat) sends them. The status is one of the
 *    enum's, with a message and an HTTP status; a status past the base64
 *    and length checks implies userdata_precheck() accepted the same data.
 *  - odd: the rest is a 16-byte key, a 16-byte iv and a plaintext, which
 *    the target encrypts properly. Decryption must then get past every
 *    encoding check, and its verdict on the JSON must equal an independent
 *    reading of the contract (object, openId 1..128 bytes equal to the
 *    exchanged openid, watermark.appid equal to ours); the signature of the
 *    plaintext as rawData verifies in either case and fails when altered. */
#include "crypto.h"
#include "fuzz_common.h"
#include "userdata.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define APPID "wx1234567890abcdef"
#define OPENID "oFuzz-openid_0123456789"

static void check_status(enum userdata_status st)
{
    FUZZ_CHECK(st >= USERDATA_OK && st <= USERDATA_BAD_SIGNATURE);
    int http = userdata_http_status(st);
    FUZZ_CHECK(http == (st == USERDATA_OK ? 200 : st >= USERDATA_WATERMARK_MISMATCH ? 401 : 400));
    FUZZ_CHECK(userdata_message(st) != NULL && userdata_message(st)[0] != '\0');
}

/* A string member equal, over its whole length, to want. */
static bool member_is(const json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           memcmp(json_string_value(v), want, strlen(want)) == 0;
}

/* The verdict on a decrypted plaintext, read from the contract. */
static enum userdata_status expected_plain(const uint8_t *plain, size_t len)
{
    json_t *obj = json_loadb((const char *)plain, len, JSON_REJECT_DUPLICATES, NULL);
    enum userdata_status st = USERDATA_OK;
    json_t *oid = json_object_get(obj, "openId");
    if (!json_is_object(obj))
        st = USERDATA_NOT_JSON;
    else if (!json_is_string(oid) || json_string_length(oid) > 128 ||
             json_string_value(oid)[0] == '\0')
        st = USERDATA_NO_OPENID;
    else if (!member_is(json_object_get(obj, "watermark"), "appid", APPID))
        st = USERDATA_WATERMARK_MISMATCH;
    else if (!member_is(obj, "openId", OPENID))
        st = USERDATA_OPENID_MISMATCH;
    json_decref(obj);
    return st;
}

static char *b64(const unsigned char *p, size_t len)
{
    char *s = malloc(BASE64_ENCODED_LEN(len) + 1);
    base64_encode(p, len, s);
    return s;
}

static void check_signature(const char *raw, const char *key_b64)
{
    char sig[CRYPTO_SHA1_HEX_LEN + 1];
    FUZZ_CHECK(crypto_sha1_hex2(raw, strlen(raw), key_b64, strlen(key_b64), sig) == 0);
    FUZZ_CHECK(userdata_signature_ok(raw, key_b64, sig));
    for (char *c = sig; *c; c++) /* hex case does not matter */
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
    FUZZ_CHECK(userdata_signature_ok(raw, key_b64, sig));
    sig[7] = sig[7] == '0' ? '1' : '0';
    FUZZ_CHECK(!userdata_signature_ok(raw, key_b64, sig));
    sig[CRYPTO_SHA1_HEX_LEN - 1] = '\0';
    FUZZ_CHECK(!userdata_signature_ok(raw, key_b64, sig));
}

/* Odd mode: a properly encrypted plaintext. */
static void run_encrypted(const uint8_t *data, size_t size)
{
    if (size < 32)
        return;
    const uint8_t *key = data, *iv = data + 16, *plain = data + 32;
    size_t plen = size - 32, clen;
    unsigned char *cipher = malloc(plen + 16);
    FUZZ_CHECK(crypto_aes128cbc_encrypt(key, iv, plain, plen, cipher, &clen) == 0);
    char *key_b64 = b64(key, 16), *iv_b64 = b64(iv, 16), *enc_b64 = b64(cipher, clen);
    FUZZ_CHECK(userdata_precheck(enc_b64, iv_b64) == USERDATA_OK);
    json_t *out = (json_t *)1;
    enum userdata_status st = userdata_decrypt(key_b64, enc_b64, iv_b64, APPID, OPENID, &out);
    check_status(st);
    FUZZ_CHECK(st == expected_plain(plain, plen));
    FUZZ_CHECK((st == USERDATA_OK) == (out != NULL));
    if (out)
        FUZZ_CHECK(json_is_object(out) && member_is(out, "openId", OPENID));
    json_decref(out);
    char *raw = fuzz_strndup(plain, plen);
    check_signature(raw, key_b64);
    free(raw);
    free(key_b64), free(iv_b64), free(enc_b64), free(cipher);
}

/* Even mode: arbitrary strings. */
static void run_strings(const uint8_t *data, size_t size)
{
    size_t off = 0;
    char *f[7];
    for (int i = 0; i < 7; i++)
        f[i] = fuzz_line(data, size, &off);
    enum userdata_status pre = userdata_precheck(f[1], f[2]);
    check_status(pre);
    FUZZ_CHECK(pre <= USERDATA_BAD_LENGTH);
    json_t *out = (json_t *)1;
    enum userdata_status st = userdata_decrypt(f[0], f[1], f[2], f[3], f[4], &out);
    check_status(st);
    FUZZ_CHECK(st != USERDATA_BAD_SIGNATURE);
    FUZZ_CHECK((st == USERDATA_OK) == (out != NULL));
    if (st > USERDATA_BAD_LENGTH)
        FUZZ_CHECK(pre == USERDATA_OK);
    if (out)
        FUZZ_CHECK(member_is(out, "openId", f[4]));
    json_decref(out);
    bool sig = userdata_signature_ok(f[5], f[0], f[6]);
    if (sig)
        FUZZ_CHECK(strlen(f[6]) == CRYPTO_SHA1_HEX_LEN);
    for (int i = 0; i < 7; i++)
        free(f[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        run_encrypted(data + 1, size - 1);
    else
        run_strings(data + 1, size - 1);
    return 0;
}
