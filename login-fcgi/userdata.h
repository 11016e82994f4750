/* userdata.h -- verifying what wx.getUserInfo() gave the mini-program:
 * the rawData signature and the AES-encrypted user info, both keyed by the
 * session_key WeChat returned for the login code. Pure (no I/O), so unit
 * tests run it on WeChat's published vectors. */
#ifndef LOGIN_USERDATA_H
#define LOGIN_USERDATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum userdata_status {
    USERDATA_OK = 0,
    USERDATA_BAD_BASE64,        /* 400: encrypted data, iv or session key not base64 */
    USERDATA_BAD_IV,            /* 400: iv is not 16 bytes */
    USERDATA_BAD_LENGTH,        /* 400: ciphertext empty or not whole AES blocks */
    USERDATA_BAD_PADDING,       /* 400: decryption failed (bad padding, wrong key) */
    USERDATA_NOT_JSON,          /* 400: plaintext is not a JSON object */
    USERDATA_NO_OPENID,         /* 400: plaintext has no openId string */
    USERDATA_WATERMARK_MISMATCH, /* 401: watermark.appid is not our app id */
    USERDATA_OPENID_MISMATCH,   /* 401: openId is not the exchanged openid */
    USERDATA_BAD_SIGNATURE      /* 401: sha1(rawData + session_key) differs */
};

/* Check the encrypted data and iv before the code is exchanged: both strict
 * base64, iv 16 bytes, ciphertext whole non-empty AES blocks. */
enum userdata_status userdata_precheck(const char *encrypted_b64, const char *iv_b64);

/* Whether hex(sha1(raw_data + session_key_b64)) equals signature (compared
 * case-insensitively, in constant time for a 40-character signature). */
bool userdata_signature_ok(const char *raw_data, const char *session_key_b64,
                           const char *signature);

/* Decrypt encrypted_b64 (AES-128-CBC, key = base64-decoded session key, iv
 * = base64-decoded iv_b64, PKCS#7), parse the plaintext as a JSON object and
 * check watermark.appid == appid and openId == openid. On USERDATA_OK *out
 * is the object (new reference, caller json_decref()s it); otherwise *out
 * is NULL. */
enum userdata_status userdata_decrypt(const char *session_key_b64, const char *encrypted_b64,
                                      const char *iv_b64, const char *appid, const char *openid,
                                      json_t **out);

/* The HTTP status a login answers for st (400 or 401; 200 for OK). */
int userdata_http_status(enum userdata_status st);

/* A message for clients explaining st. Static string. */
const char *userdata_message(enum userdata_status st);

#endif
