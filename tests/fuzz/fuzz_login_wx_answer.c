/* fuzz_login_wx_answer.c -- libFuzzer target for the parser of WeChat's
 * jscode2session answer (wx_parse_answer() in wx_client.h); the input is
 * the HTTP body WeChat (or anything posing as it) sends back.
 *
 * Checked beyond "no crash": the returned status is the one stored; WX_OK
 * only with openid of 1..128 bytes, a unionid of at most 128 and a
 * session_key that is base64 of 16 bytes, each equal to the JSON member
 * over its whole length, and only when errcode is absent or 0; any other
 * verdict leaves no session key behind; errmsg is always a C string; the
 * HTTP status for the verdict is one login answers. */
#include "crypto.h"
#include "fuzz_common.h"
#include "wx_client.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The member key equals value over its whole length. */
static bool member_is(const json_t *obj, const char *key, const char *value)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) == strlen(value) &&
           memcmp(json_string_value(v), value, strlen(value)) == 0;
}

static void check_ok(const json_t *obj, const struct wx_session *s)
{
    FUZZ_CHECK(json_is_object(obj));
    json_t *errcode = json_object_get(obj, "errcode");
    FUZZ_CHECK(!errcode || (json_is_integer(errcode) && json_integer_value(errcode) == 0));
    size_t n = strlen(s->openid);
    FUZZ_CHECK(n >= 1 && n <= 128 && member_is(obj, "openid", s->openid));
    FUZZ_CHECK(strlen(s->unionid) <= 128);
    if (s->unionid[0])
        FUZZ_CHECK(member_is(obj, "unionid", s->unionid));
    FUZZ_CHECK(member_is(obj, "session_key", s->session_key));
    unsigned char key[64];
    size_t klen;
    FUZZ_CHECK(base64_decode(s->session_key, strlen(s->session_key), key, sizeof(key), &klen) ==
                   0 &&
               klen == 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wx_session *s = malloc(sizeof(*s));
    enum wx_status st = wx_parse_answer((const char *)data, size, s);
    FUZZ_CHECK(st == s->status);
    FUZZ_CHECK(st == WX_OK || st == WX_REFUSED || st == WX_BAD_ANSWER);
    FUZZ_CHECK(memchr(s->errmsg, '\0', sizeof(s->errmsg)) != NULL);
    int http = wx_http_status(s);
    FUZZ_CHECK(http == 200 || http == 401 || http == 502);
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (st == WX_OK) {
        check_ok(obj, s);
    } else {
        static const char zero[sizeof(s->session_key)];
        FUZZ_CHECK(memcmp(s->session_key, zero, sizeof(zero)) == 0);
        if (st == WX_REFUSED)
            FUZZ_CHECK(s->errcode == json_integer_value(json_object_get(obj, "errcode")) &&
                       json_integer_value(json_object_get(obj, "errcode")) != 0);
    }
    json_decref(obj);
    free(s);
    return 0;
}
