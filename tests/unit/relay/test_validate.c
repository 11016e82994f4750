/* test_validate.c -- UTF-8 validation, message validation, URL and room
 * rules, the token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "chatjson.h"
#include "msg.h"
#include "rate.h"
#include "utf8.h"

static void test_utf8(void **state)
{
    (void)state;
    assert_true(utf8_valid((const uint8_t *)"h\xc3\xa9llo \xe4\xbd\xa0 \xf0\x9f\x98\x80", 16));
    const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
                         "\x80", "\xc3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
    /* split across chunks */
    struct utf8_state s;
    utf8_init(&s);
    assert_true(utf8_feed(&s, (const uint8_t *)"\xf0\x9f", 2));
    assert_false(utf8_complete(&s));
    assert_true(utf8_feed(&s, (const uint8_t *)"\x98\x80", 2));
    assert_true(utf8_complete(&s));
    assert_int_equal(utf8_length("h\xc3\xa9", 3), 2);
    /* the longest whole, valid prefix */
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"ab\xc3", 3), 2);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"\xc3\xa9", 2), 2);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"a\xff b", 4), 1);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"\xf0\x9f\x98", 3), 0);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"", 0), 0);
}

static const char *const prefixes[] = {"/files/", "https://cdn.example.com/", NULL};
static const struct msg_rules rules = {16, prefixes};

static int parse(const char *text, struct msg_input *in, json_t **root, char **cid)
{
    char why[256];
    return msg_parse(text, strlen(text), &rules, root, in, cid, why, sizeof(why));
}

static void test_messages(void **state)
{
    (void)state;
    struct msg_input in;
    json_t *root;
    char *cid;
    assert_int_equal(parse("{\"text\":true,\"content\":\"hi\",\"cid\":\"c1\"}", &in, &root, &cid), 0);
    assert_false(in.image);
    assert_int_equal(in.body_len, 2);
    assert_string_equal(in.cid, "c1");
    json_decref(root);
    assert_int_equal(parse("{\"gallery\":true,\"url\":\"/files/a.png\"}", &in, &root, &cid), 0);
    assert_true(in.image);
    assert_null(in.cid);
    json_decref(root);
    const char *bad[] = {"not json", "[1]", "{\"text\":true}", "{\"text\":true,\"content\":\"\"}",
                         "{\"text\":true,\"content\":5}", "{\"content\":\"x\"}",
                         "{\"text\":true,\"content\":\"01234567890123456\"}",
                         "{\"text\":true,\"gallery\":true,\"content\":\"x\",\"url\":\"/files/a\"}",
                         "{\"gallery\":true,\"url\":\"http://x/a\"}",
                         "{\"text\":true,\"content\":\"x\",\"cid\":5}",
                         "{\"text\":true,\"content\":\"x\",\"cid\":\"\"}",
                         "{\"text\":true,\"content\":\"a\\u0000b\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &in, &root, &cid), -1);
        assert_null(root);
        free(cid);
    }
    /* the cid of a bad message is handed back for the error frame */
    assert_int_equal(parse("{\"text\":true,\"content\":\"\",\"cid\":\"k\"}", &in, &root, &cid), -1);
    assert_string_equal(cid, "k");
    free(cid);
    char long_cid[200];
    strcpy(long_cid, "{\"text\":true,\"content\":\"x\",\"cid\":\"");
    size_t n = strlen(long_cid);
    memset(long_cid + n, 'c', 65);
    strcpy(long_cid + n + 65, "\"}");
    assert_int_equal(parse(long_cid, &in, &root, &cid), -1);
    free(cid);
}

/* jansson quotes the input near a syntax error cut at any byte (here in
 * the middle of "é"): the reason stays whole UTF-8, so that the error
 * frame can carry it (found by fuzz_relay_ws). */
static void test_reason_is_whole_utf8(void **state)
{
    (void)state;
    const char *text = "{\"text\":true,\"content\":\"\\u\xc3\xa9\"}";
    assert_true(utf8_valid((const uint8_t *)text, strlen(text)));
    struct msg_input in;
    json_t *root;
    char *cid, why[256];
    assert_int_equal(msg_parse(text, strlen(text), &rules, &root, &in, &cid, why, sizeof(why)), -1);
    assert_true(utf8_valid((const uint8_t *)why, strlen(why)));
    assert_non_null(strstr(why, "invalid escape"));
    size_t len;
    char *frame = chatjson_error("ERR_BAD_MESSAGE", why, cid, &len);
    json_t *o = json_loadb(frame, len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "message")), why);
    json_decref(o);
    free(frame);
    free(cid);
}

static void test_urls(void **state)
{
    (void)state;
    const char *good[] = {"/files/abc.png", "https://cdn.example.com/a.png?x=1",
                          "https://cdn.example.com/a.png"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(msg_url_allowed(good[i], strlen(good[i]), prefixes));
    const char *bad[] = {"/files/../etc/passwd", "/files/a%2e.png", "/files/a b.png",
                         "/files/a\\b", "/files/a.png?x", "/files/a.png#f", "/other/a.png",
                         "http://x/a.png", "https://img.example/a.png", "https:///x",
                         "//evil.example/files/a.png", "javascript:alert(1)",
                         "/files/\x01", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(msg_url_allowed(bad[i], strlen(bad[i]), prefixes));
    /* only len bytes are read: no NUL after them (ASan sees an overread) */
    const char *exact = "/files/a.png";
    char *heap = malloc(strlen(exact));
    assert_non_null(heap);
    memcpy(heap, exact, strlen(exact));
    assert_true(msg_url_allowed(heap, strlen(exact), prefixes));
    memcpy(heap, "/files/a..p", 11);
    assert_false(msg_url_allowed(heap, 11, prefixes));
    free(heap);
    /* a ".." just past len is not part of the url */
    assert_true(msg_url_allowed("/files/a..png", 9, prefixes));
    char **p = msg_prefixes_parse(" /files/ ,,https://x/ ");
    assert_string_equal(p[0], "/files/");
    assert_string_equal(p[1], "https://x/");
    assert_null(p[2]);
    msg_prefixes_free(p);
}

static void test_rooms(void **state)
{
    (void)state;
    assert_true(msg_room_valid("lobby"));
    assert_true(msg_room_valid("A-z_09"));
    assert_false(msg_room_valid(""));
    assert_false(msg_room_valid("a b"));
    assert_false(msg_room_valid("a/b"));
    char name[66];
    memset(name, 'a', 65);
    name[65] = '\0';
    assert_false(msg_room_valid(name));
    name[64] = '\0';
    assert_true(msg_room_valid(name));
}

static void test_rate(void **state)
{
    (void)state;
    struct rate_bucket b;
    rate_init(&b, 2, 0);
    assert_true(rate_take(&b, 2, 2, 0));
    assert_true(rate_take(&b, 2, 2, 0));
    assert_false(rate_take(&b, 2, 2, 0));
    assert_int_equal(rate_refusals(&b), 1);
    assert_false(rate_take(&b, 2, 2, 100));
    assert_true(rate_take(&b, 2, 2, 600)); /* 0.2 + 1.0 tokens */
    assert_false(rate_take(&b, 2, 2, 600));
    assert_int_equal(rate_refusals(&b), 3);
    assert_true(rate_take(&b, 2, 2, 20000)); /* refilled, capped at burst */
    assert_true(rate_take(&b, 2, 2, 20000));
    assert_false(rate_take(&b, 2, 2, 20000));
    assert_int_equal(rate_refusals(&b), 1); /* a new window */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8), cmocka_unit_test(test_messages),
        cmocka_unit_test(test_reason_is_whole_utf8), cmocka_unit_test(test_urls),
        cmocka_unit_test(test_rooms), cmocka_unit_test(test_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
