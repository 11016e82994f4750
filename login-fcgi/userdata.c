/* userdata.c -- rawData signature and encrypted user-info checks. */
#include "userdata.h"

#include "crypto.h"
#include "json_util.h"
#include "util.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Decode the base64 session key; it must be exactly 16 bytes. */
static int decode_key(const char *b64, unsigned char key[16])
{
    unsigned char buf[BASE64_DECODED_MAX(64)];
    size_t n, len = strlen(b64);
    if (len > 64 || base64_decode(b64, len, buf, sizeof(buf), &n) < 0 || n != 16)
        return -1;
    memcpy(key, buf, 16);
    return 0;
}

static int decode_iv(const char *b64, unsigned char iv[16], enum userdata_status *st)
{
    unsigned char buf[BASE64_DECODED_MAX(64)];
    size_t n, len = strlen(b64);
    if (len > 64 || base64_decode(b64, len, buf, sizeof(buf), &n) < 0) {
        *st = USERDATA_BAD_BASE64;
        return -1;
    }
    if (n != 16) {
        *st = USERDATA_BAD_IV;
        return -1;
    }
    memcpy(iv, buf, 16);
    return 0;
}

/* Decode the ciphertext into a malloc'ed buffer (*out, *out_len). */
static enum userdata_status decode_cipher(const char *b64, unsigned char **out, size_t *out_len)
{
    size_t len = strlen(b64);
    unsigned char *buf = xmalloc(BASE64_DECODED_MAX(len) + 1);
    if (base64_decode(b64, len, buf, BASE64_DECODED_MAX(len) + 1, out_len) < 0) {
        free(buf);
        return USERDATA_BAD_BASE64;
    }
    if (*out_len == 0 || *out_len % 16 != 0) {
        free(buf);
        return USERDATA_BAD_LENGTH;
    }
    *out = buf;
    return USERDATA_OK;
}

enum userdata_status userdata_precheck(const char *encrypted_b64, const char *iv_b64)
{
    unsigned char iv[16], *cipher;
    size_t len;
    enum userdata_status st = decode_cipher(encrypted_b64, &cipher, &len);
    if (st != USERDATA_OK)
        return st;
    free(cipher);
    if (decode_iv(iv_b64, iv, &st) < 0)
        return st;
    return USERDATA_OK;
}

bool userdata_signature_ok(const char *raw_data, const char *session_key_b64,
                           const char *signature)
{
    char expected[CRYPTO_SHA1_HEX_LEN + 1], given[CRYPTO_SHA1_HEX_LEN + 1];
    if (strlen(signature) != CRYPTO_SHA1_HEX_LEN)
        return false;
    for (size_t i = 0; i <= CRYPTO_SHA1_HEX_LEN; i++)
        given[i] = (char)tolower((unsigned char)signature[i]);
    if (crypto_sha1_hex2(raw_data, strlen(raw_data), session_key_b64, strlen(session_key_b64),
                         expected) < 0)
        return false;
    return crypto_equal(expected, given, CRYPTO_SHA1_HEX_LEN);
}

/* Check the decrypted object against our app id and the exchanged openid. */
static enum userdata_status check_plain(const json_t *obj, const char *appid, const char *openid)
{
    const char *oid = json_string_field(obj, "openId", 128);
    if (!oid || !*oid)
        return USERDATA_NO_OPENID;
    const char *wm = json_string_field(json_object_get(obj, "watermark"), "appid", 128);
    if (!wm || !crypto_equal_str(wm, appid))
        return USERDATA_WATERMARK_MISMATCH;
    if (!crypto_equal_str(oid, openid))
        return USERDATA_OPENID_MISMATCH;
    return USERDATA_OK;
}

enum userdata_status userdata_decrypt(const char *session_key_b64, const char *encrypted_b64,
                                      const char *iv_b64, const char *appid, const char *openid,
                                      json_t **out)
{
    unsigned char key[16], iv[16], *cipher = NULL, *plain = NULL;
    size_t cipher_len, plain_len;
    enum userdata_status st;
    *out = NULL;
    if (decode_key(session_key_b64, key) < 0)
        return USERDATA_BAD_BASE64;
    if (decode_iv(iv_b64, iv, &st) < 0)
        return st;
    if ((st = decode_cipher(encrypted_b64, &cipher, &cipher_len)) != USERDATA_OK)
        return st;
    plain = xmalloc(cipher_len);
    if (crypto_aes128cbc_decrypt(key, iv, cipher, cipher_len, plain, &plain_len) < 0) {
        st = USERDATA_BAD_PADDING;
        goto done;
    }
    json_t *obj = json_loadb((const char *)plain, plain_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        st = USERDATA_NOT_JSON;
        goto done;
    }
    st = check_plain(obj, appid, openid);
    if (st == USERDATA_OK)
        *out = obj;
    else
        json_decref(obj);
done:
    OPENSSL_cleanse(plain, cipher_len);
    free(plain);
    free(cipher);
    return st;
}

int userdata_http_status(enum userdata_status st)
{
    switch (st) {
    case USERDATA_OK:
        return 200;
    case USERDATA_WATERMARK_MISMATCH:
    case USERDATA_OPENID_MISMATCH:
    case USERDATA_BAD_SIGNATURE:
        return 401;
    default:
        return 400;
    }
}

const char *userdata_message(enum userdata_status st)
{
    switch (st) {
    case USERDATA_OK:
        return "ok";
    case USERDATA_BAD_BASE64:
        return "encrypted data or iv is not valid base64";
    case USERDATA_BAD_IV:
        return "iv must decode to 16 bytes";
    case USERDATA_BAD_LENGTH:
        return "encrypted data is not a whole number of AES blocks";
    case USERDATA_BAD_PADDING:
        return "encrypted data could not be decrypted (AES padding error)";
    case USERDATA_NOT_JSON:
        return "decrypted user data is not a JSON object";
    case USERDATA_NO_OPENID:
        return "decrypted user data has no openId";
    case USERDATA_WATERMARK_MISMATCH:
        return "user data watermark.appid does not match this app";
    case USERDATA_OPENID_MISMATCH:
        return "user data openId does not match the login code's user";
    case USERDATA_BAD_SIGNATURE:
        return "rawData signature mismatch";
    }
    return "invalid user data";
}
