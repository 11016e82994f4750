/* profile.h -- a user's public profile (nickname, avatar, ...): reading it
 * from WeChat's user-info JSON, the rule that WeChat's placeholder profile
 * never replaces a real one, validation of what POST /user may set, and
 * the userInfo JSON clients see. Pure: no I/O. */
#ifndef LOGIN_PROFILE_H
#define LOGIN_PROFILE_H

#include <jansson.h>
#include <stdbool.h>

/* Byte capacities (UTF-8); the schema's limits are in characters. */
#define PROFILE_NICK_CAP 1025   /* schema: 256 characters */
#define PROFILE_AVATAR_CAP 2049 /* schema: 2048 characters */
#define PROFILE_PLACE_CAP 1025  /* city, province, country: 256 characters */
#define PROFILE_LANG_CAP 65     /* schema: 64 characters */

/* The nickname limit of POST /user, in characters. */
#define PROFILE_NICK_MAX_CHARS 64

struct profile {
    char nick[PROFILE_NICK_CAP];
    char avatar[PROFILE_AVATAR_CAP];
    char city[PROFILE_PLACE_CAP];
    char province[PROFILE_PLACE_CAP];
    char country[PROFILE_PLACE_CAP];
    char language[PROFILE_LANG_CAP];
    int gender; /* 0 unknown, 1 male, 2 female */
};

/* The nickname WeChat hands out instead of the real one ("微信用户"). */
extern const char PROFILE_PLACEHOLDER_NICK[];
/* The prefix of WeChat's grey placeholder avatar. */
extern const char PROFILE_PLACEHOLDER_AVATAR_PREFIX[];

bool profile_nick_is_placeholder(const char *nick);
bool profile_avatar_is_placeholder(const char *url);

/* Fill *out from a WeChat user-info object (nickName, avatarUrl, gender,
 * language, city, province, country). A member that is missing, of the
 * wrong type or over the schema's length becomes empty (gender 0). */
void profile_from_json(const json_t *obj, struct profile *out);

/* Bits of profile_weak_fields(), one per field. */
enum {
    PROFILE_F_NICK = 1,
    PROFILE_F_AVATAR = 2,
    PROFILE_F_GENDER = 4,
    PROFILE_F_LANGUAGE = 8,
    PROFILE_F_CITY = 16,
    PROFILE_F_PROVINCE = 32,
    PROFILE_F_COUNTRY = 64
};

/* The fields of `incoming` that must not replace a stored non-empty value
 * (non-zero gender): the empty ones (gender 0) and WeChat's placeholder
 * nickname or avatar. Every other incoming field wins. This is the whole
 * merge rule: profile_merge() applies it in C, and store.c's login
 * statement applies the same mask in SQL. */
unsigned profile_weak_fields(const struct profile *incoming);

/* The profile to store when a login brings `incoming` for a user whose stored
 * profile is `stored` (both may be the same as out): per field, the stored
 * value when the field is weak (profile_weak_fields) and the stored one is
 * non-empty, else the incoming value. */
void profile_merge(const struct profile *stored, const struct profile *incoming,
                   struct profile *out);

/* Whether two profiles hold the same values. */
bool profile_equal(const struct profile *a, const struct profile *b);

/* Whether POST /user may set this nickname: 1..64 characters of valid
 * UTF-8 without control characters. */
bool profile_nick_valid(const char *nick);

/* Whether POST /user may set this avatar URL: it starts with base_url, has
 * a non-empty rest, is at most 2048 bytes, and holds no "..", '\\', '%',
 * whitespace or control character. */
bool profile_avatar_valid(const char *url, const char *base_url);

/* The userInfo object clients see: {uid, nickName, avatarUrl, gender,
 * language, city, province, country}. New reference. */
json_t *profile_to_json(long long uid, const struct profile *p);

#endif
