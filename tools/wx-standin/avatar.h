/* avatar.h -- GET /standin/avatar/NAME.svg: a generated 96x96 avatar, a
 * rounded square whose hue comes from md5(NAME) and the name's first
 * character on it, so pages and tests need no network for pictures. */
#ifndef STANDIN_AVATAR_H
#define STANDIN_AVATAR_H

#include "answer.h"

#include <stddef.h>

/* Longest NAME, in bytes as sent (still percent-encoded). */
#define AVATAR_NAME_MAX 200

/* Answer for the NAME part of the path (name[0..len), len <=
 * AVATAR_NAME_MAX, still percent-encoded): decoded with query_decode()
 * ('+' reads as a space), 200 image/svg+xml with a day of caching, or 400
 * when a %-escape is malformed, decodes to NUL or the result is not UTF-8. */
void avatar_answer(const char *name, size_t len, struct answer *a);

#endif
