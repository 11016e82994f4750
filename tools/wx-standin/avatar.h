/* avatar.h -- GET /standin/avatar/NAME.svg: a generated 96x96 avatar, a
 * rounded square whose hue comes from md5(NAME) and the name's first
 * character on it, so pages and tests need no network for pictures. */
#ifndef STANDIN_AVATAR_H
#define STANDIN_AVATAR_H

#include "answer.h"

#include <stddef.h>

/* Answer for the NAME part of the path (still percent-encoded, as in the
 * URL's pathname): 200 image/svg+xml with a day of caching, or 400 when
 * NAME is not valid for decodeURIComponent (the Node version crashed). */
void avatar_answer(const char *name, size_t len, struct answer *a);

#endif
