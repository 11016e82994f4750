/* profile.c -- user profiles: WeChat's JSON, the placeholder rule, checks. */
#include "profile.h"

#include <stdio.h>
#include <string.h>

const char PROFILE_PLACEHOLDER_NICK[] = "\xe5\xbe\xae\xe4\xbf\xa1\xe7\x94\xa8\xe6\x88\xb7";
const char PROFILE_PLACEHOLDER_AVATAR_PREFIX[] =
    "https://thirdwx.qlogo.cn/mmopen/vi_32/"
    "POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg";

bool profile_nick_is_placeholder(const char *nick)
{
    return strcmp(nick, PROFILE_PLACEHOLDER_NICK) == 0;
}

bool profile_avatar_is_placeholder(const char *url)
{
    return strncmp(url, PROFILE_PLACEHOLDER_AVATAR_PREFIX,
                   sizeof(PROFILE_PLACEHOLDER_AVATAR_PREFIX) - 1) == 0;
}

/* Number of characters of a valid UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Whether s is well-formed UTF-8 (shortest forms, no surrogates). */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                               : (c & 0xF8) == 0xF0   ? 3 : -1;
        if (extra < 0 || (extra == 1 && c < 0xC2) || (extra == 3 && c > 0xF4))
            return false;
        unsigned cp = extra ? c & (0x3F >> extra) : c;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += extra + 1;
    }
    return true;
}

/* Copy string member `key` into out when it fits both cap bytes and
 * max_chars characters; else leave out empty. */
static void copy_field(const json_t *obj, const char *key, char *out, size_t cap,
                       size_t max_chars)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return;
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || utf8_chars(s) > max_chars)
        return; /* embedded NUL or too many characters */
    memcpy(out, s, json_string_length(v) + 1);
}

void profile_from_json(const json_t *obj, struct profile *out)
{
    copy_field(obj, "nickName", out->nick, sizeof(out->nick), 256);
    copy_field(obj, "avatarUrl", out->avatar, sizeof(out->avatar), 2048);
    copy_field(obj, "city", out->city, sizeof(out->city), 256);
    copy_field(obj, "province", out->province, sizeof(out->province), 256);
    copy_field(obj, "country", out->country, sizeof(out->country), 256);
    copy_field(obj, "language", out->language, sizeof(out->language), 64);
    json_t *g = json_object_get(obj, "gender");
    out->gender = 0;
    if (json_is_integer(g) && json_integer_value(g) >= 0 && json_integer_value(g) <= 2)
        out->gender = (int)json_integer_value(g);
}

unsigned profile_weak_fields(const struct profile *in)
{
    unsigned weak = 0;
    if (!*in->nick || profile_nick_is_placeholder(in->nick))
        weak |= PROFILE_F_NICK;
    if (!*in->avatar || profile_avatar_is_placeholder(in->avatar))
        weak |= PROFILE_F_AVATAR;
    weak |= in->gender ? 0 : PROFILE_F_GENDER;
    weak |= *in->language ? 0 : PROFILE_F_LANGUAGE;
    weak |= *in->city ? 0 : PROFILE_F_CITY;
    weak |= *in->province ? 0 : PROFILE_F_PROVINCE;
    weak |= *in->country ? 0 : PROFILE_F_COUNTRY;
    return weak;
}

/* One text field of profile_merge(). */
static void merge_text(const char *stored, const char *incoming, bool weak, char *out, size_t cap)
{
    const char *pick = weak && *stored ? stored : incoming;
    if (pick != out)
        snprintf(out, cap, "%s", pick);
}

void profile_merge(const struct profile *stored, const struct profile *incoming,
                   struct profile *out)
{
    struct profile tmp;
    unsigned weak = profile_weak_fields(incoming);
    merge_text(stored->nick, incoming->nick, weak & PROFILE_F_NICK, tmp.nick, sizeof(tmp.nick));
    merge_text(stored->avatar, incoming->avatar, weak & PROFILE_F_AVATAR, tmp.avatar,
               sizeof(tmp.avatar));
    merge_text(stored->language, incoming->language, weak & PROFILE_F_LANGUAGE, tmp.language,
               sizeof(tmp.language));
    merge_text(stored->city, incoming->city, weak & PROFILE_F_CITY, tmp.city, sizeof(tmp.city));
    merge_text(stored->province, incoming->province, weak & PROFILE_F_PROVINCE, tmp.province,
               sizeof(tmp.province));
    merge_text(stored->country, incoming->country, weak & PROFILE_F_COUNTRY, tmp.country,
               sizeof(tmp.country));
    tmp.gender = (weak & PROFILE_F_GENDER) && stored->gender ? stored->gender : incoming->gender;
    *out = tmp;
}

bool profile_equal(const struct profile *a, const struct profile *b)
{
    return a->gender == b->gender && strcmp(a->nick, b->nick) == 0 &&
           strcmp(a->avatar, b->avatar) == 0 && strcmp(a->city, b->city) == 0 &&
           strcmp(a->province, b->province) == 0 && strcmp(a->country, b->country) == 0 &&
           strcmp(a->language, b->language) == 0;
}

bool profile_nick_valid(const char *nick)
{
    if (!*nick || !utf8_valid(nick))
        return false;
    for (const unsigned char *p = (const unsigned char *)nick; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return utf8_chars(nick) <= PROFILE_NICK_MAX_CHARS;
}

bool profile_avatar_valid(const char *url, const char *base_url)
{
    size_t base = strlen(base_url), len = strlen(url);
    if (len <= base || len > 2048 || strncmp(url, base_url, base) != 0)
        return false;
    if (strstr(url, ".."))
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7F || *p == '\\' || *p == '%')
            return false;
    return utf8_valid(url);
}

json_t *profile_to_json(long long uid, const struct profile *p)
{
    return json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "uid", (json_int_t)uid,
                     "nickName", p->nick, "avatarUrl", p->avatar, "gender", p->gender,
                     "language", p->language, "city", p->city, "province", p->province,
                     "country", p->country);
}
