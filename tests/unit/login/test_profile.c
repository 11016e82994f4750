/* test_profile.c -- WeChat's placeholder profile never replaces a real one;
 * profile fields from JSON; what POST /user accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "profile.h"

#define PLACEHOLDER_AVATAR                                                                      \
    "https://thirdwx.qlogo.cn/mmopen/vi_32/"                                                    \
    "POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132"

static struct profile make(const char *nick, const char *avatar, int gender, const char *city)
{
    struct profile p;
    memset(&p, 0, sizeof(p));
    snprintf(p.nick, sizeof(p.nick), "%s", nick);
    snprintf(p.avatar, sizeof(p.avatar), "%s", avatar);
    snprintf(p.city, sizeof(p.city), "%s", city);
    snprintf(p.language, sizeof(p.language), "zh_CN");
    p.gender = gender;
    return p;
}

static void test_placeholder_detection(void **state)
{
    (void)state;
    assert_true(profile_nick_is_placeholder("微信用户"));
    assert_false(profile_nick_is_placeholder("微信用户2"));
    assert_false(profile_nick_is_placeholder(""));
    assert_true(profile_avatar_is_placeholder(PLACEHOLDER_AVATAR));
    assert_false(profile_avatar_is_placeholder("https://thirdwx.qlogo.cn/mmopen/vi_32/other/132"));
}

static void test_placeholder_never_overwrites(void **state)
{
    (void)state;
    struct profile stored = make("alice", "/files/a.png", 2, "Guangzhou");
    struct profile incoming = make("微信用户", PLACEHOLDER_AVATAR, 0, "");
    struct profile out;
    profile_merge(&stored, &incoming, &out);
    assert_string_equal(out.nick, "alice");
    assert_string_equal(out.avatar, "/files/a.png");
    assert_int_equal(out.gender, 2);
    assert_string_equal(out.city, "Guangzhou");
    assert_true(profile_equal(&out, &stored));
}

static void test_placeholder_fills_empty(void **state)
{
    (void)state;
    struct profile stored = make("", "", 0, "");
    struct profile incoming = make("微信用户", PLACEHOLDER_AVATAR, 0, "");
    struct profile out;
    profile_merge(&stored, &incoming, &out);
    assert_string_equal(out.nick, "微信用户");
    assert_string_equal(out.avatar, PLACEHOLDER_AVATAR);
}

static void test_real_profile_wins(void **state)
{
    (void)state;
    struct profile stored = make("微信用户", PLACEHOLDER_AVATAR, 0, "");
    struct profile incoming = make("bob", "https://wx.qlogo.cn/real/0", 1, "Shenzhen");
    profile_merge(&stored, &incoming, &stored); /* in place */
    assert_string_equal(stored.nick, "bob");
    assert_string_equal(stored.avatar, "https://wx.qlogo.cn/real/0");
    assert_int_equal(stored.gender, 1);
    assert_string_equal(stored.city, "Shenzhen");
    /* Only one of the two fields is a placeholder. */
    struct profile s2 = make("carol", "/files/c.png", 0, "");
    struct profile in2 = make("carol2", PLACEHOLDER_AVATAR, 0, "");
    profile_merge(&s2, &in2, &s2);
    assert_string_equal(s2.nick, "carol2");
    assert_string_equal(s2.avatar, "/files/c.png");
}

static void test_from_json(void **state)
{
    (void)state;
    json_t *obj = json_loads("{\"nickName\":\"Band\",\"gender\":1,\"language\":\"zh_CN\","
                             "\"city\":7,\"avatarUrl\":\"http://x/a.png\",\"country\":\"CN\"}",
                             0, NULL);
    struct profile p;
    profile_from_json(obj, &p);
    assert_string_equal(p.nick, "Band");
    assert_int_equal(p.gender, 1);
    assert_string_equal(p.city, ""); /* wrong type */
    assert_string_equal(p.province, "");
    assert_string_equal(p.country, "CN");
    json_decref(obj);
    obj = json_pack("{s:i}", "gender", 9);
    profile_from_json(obj, &p);
    assert_int_equal(p.gender, 0);
    json_decref(obj);
    json_t *info = profile_to_json(42, &p);
    assert_int_equal(json_integer_value(json_object_get(info, "uid")), 42);
    assert_int_equal(json_object_size(info), 8);
    json_decref(info);
}

static void test_nick_rules(void **state)
{
    (void)state;
    char nick[300];
    assert_true(profile_nick_valid("a"));
    assert_true(profile_nick_valid("微信用户 ✓"));
    assert_false(profile_nick_valid(""));
    assert_false(profile_nick_valid("tab\there"));
    assert_false(profile_nick_valid("\xff\xfe"));
    memset(nick, 'x', 64), nick[64] = '\0';
    assert_true(profile_nick_valid(nick));
    memset(nick, 'x', 65), nick[65] = '\0';
    assert_false(profile_nick_valid(nick));
    nick[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(nick, "字"); /* 64 characters, 192 bytes */
    assert_true(profile_nick_valid(nick));
    strcat(nick, "字");
    assert_false(profile_nick_valid(nick));
}

static void test_avatar_rules(void **state)
{
    (void)state;
    assert_true(profile_avatar_valid("/files/ab12.png", "/files/"));
    assert_false(profile_avatar_valid("/files/", "/files/"));
    assert_false(profile_avatar_valid("https://evil.example/a.png", "/files/"));
    assert_false(profile_avatar_valid("/files/../secret", "/files/"));
    assert_false(profile_avatar_valid("/files/a\\b.png", "/files/"));
    assert_false(profile_avatar_valid("/files/%2e%2e/x", "/files/"));
    assert_false(profile_avatar_valid("/files/a b.png", "/files/"));
    assert_false(profile_avatar_valid("/files/a\nb.png", "/files/"));
    assert_false(profile_avatar_valid("/filesx.png", "/files/"));
    assert_true(profile_avatar_valid("https://cdn.example/files/a.png", "https://cdn.example/files/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholder_detection),
        cmocka_unit_test(test_placeholder_never_overwrites),
        cmocka_unit_test(test_placeholder_fills_empty),
        cmocka_unit_test(test_real_profile_wins),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_nick_rules),
        cmocka_unit_test(test_avatar_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
