/* fuzz_login_profile.c -- libFuzzer target for user profiles (profile.h):
 * what POST /user may set, the profile read from WeChat's user info, the
 * placeholder merge rule and the userInfo JSON.
 *
 * The input is used twice: as a raw string (nickname or avatar URL, any
 * bytes) and as the JSON body of POST /user or WeChat's user info. The
 * validators must agree exactly with the rules written out here over an
 * independent UTF-8 decoder; a profile read from JSON respects the
 * schema's limits, survives profile_to_json() and back unchanged; a merge
 * takes each field from the stored or the incoming profile by the rule and
 * gives the same result when its output is one of its inputs. */
#include "fuzz_common.h"
#include "profile.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const bases[] = {"/files/", "https://chat.example.com/files/"};

static bool ref_nick_valid(const char *s)
{
    size_t chars, n = strlen(s);
    if (n == 0 || !fuzz_utf8_ok((const uint8_t *)s, n, &chars) || chars > PROFILE_NICK_MAX_CHARS)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static bool ref_avatar_valid(const char *url, const char *base)
{
    size_t n = strlen(url), b = strlen(base);
    if (n <= b || n > 2048 || strncmp(url, base, b) != 0 || strstr(url, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f || c == '\\' || c == '%')
            return false;
    }
    return fuzz_utf8_ok((const uint8_t *)url, n, NULL);
}

static void check_validators(const char *s)
{
    FUZZ_CHECK(profile_nick_valid(s) == ref_nick_valid(s));
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
        FUZZ_CHECK(profile_avatar_valid(s, bases[i]) == ref_avatar_valid(s, bases[i]));
}

/* A field read from JSON: fits, valid UTF-8, within max_chars. */
static void check_field(const char *s, size_t cap, size_t max_chars)
{
    size_t n = strnlen(s, cap), chars;
    FUZZ_CHECK(n < cap && fuzz_utf8_ok((const uint8_t *)s, n, &chars) && chars <= max_chars);
}

static void check_profile(const struct profile *p)
{
    check_field(p->nick, sizeof(p->nick), 256);
    check_field(p->avatar, sizeof(p->avatar), 2048);
    check_field(p->city, sizeof(p->city), 256);
    check_field(p->province, sizeof(p->province), 256);
    check_field(p->country, sizeof(p->country), 256);
    check_field(p->language, sizeof(p->language), 64);
    FUZZ_CHECK(p->gender >= 0 && p->gender <= 2);
    json_t *o = profile_to_json(7, p);
    FUZZ_CHECK(o != NULL && json_integer_value(json_object_get(o, "uid")) == 7);
    struct profile *back = calloc(1, sizeof(*back));
    profile_from_json(o, back);
    FUZZ_CHECK(profile_equal(p, back));
    free(back);
    json_decref(o);
}

/* One field of a merge: stored or incoming by the rule. */
static void check_pick(const char *out, const char *stored, const char *incoming, bool ph)
{
    const char *want = !*incoming || (ph && *stored) ? stored : incoming;
    FUZZ_CHECK(strcmp(out, want) == 0);
}

static void check_merge(const struct profile *stored, const struct profile *incoming)
{
    struct profile *out = malloc(sizeof(*out)), *alias = malloc(sizeof(*alias));
    profile_merge(stored, incoming, out);
    check_pick(out->nick, stored->nick, incoming->nick,
               profile_nick_is_placeholder(incoming->nick));
    check_pick(out->avatar, stored->avatar, incoming->avatar,
               profile_avatar_is_placeholder(incoming->avatar));
    check_pick(out->city, stored->city, incoming->city, false);
    check_pick(out->language, stored->language, incoming->language, false);
    FUZZ_CHECK(out->gender == (incoming->gender ? incoming->gender : stored->gender));
    *alias = *stored;
    profile_merge(alias, incoming, alias);
    FUZZ_CHECK(profile_equal(alias, out));
    *alias = *incoming;
    profile_merge(stored, alias, alias);
    FUZZ_CHECK(profile_equal(alias, out));
    free(alias);
    free(out);
}

/* POST /user's body checks, then the profile of a WeChat user info. */
static void check_json(const uint8_t *data, size_t size)
{
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const char *keys[] = {"nickName", "avatarUrl"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
            check_validators(json_string_value(v));
    }
    struct profile *in = calloc(1, sizeof(*in)), *stored = calloc(1, sizeof(*stored));
    profile_from_json(obj, in);
    check_profile(in);
    json_t *s = json_object_get(obj, "stored");
    if (json_is_object(s))
        profile_from_json(s, stored);
    else
        strcpy(stored->nick, "stored nick");
    check_profile(stored);
    check_merge(stored, in);
    free(stored);
    free(in);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    check_validators(s);
    free(s);
    check_json(data, size);
    return 0;
}
