/* json_util.h -- small helpers over jansson shared by both programs.
 * jansson does all parsing and escaping; these only add bounds and
 * ownership conventions. */
#ifndef SHARED_JSON_UTIL_H
#define SHARED_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>

/* Compact UTF-8 encoding of v, malloc'ed (free() it); aborts on OOM.
 * Writes the length to *len when len is not NULL. */
char *json_encode(const json_t *v, size_t *len);

/* The string member `key` of obj when it exists, is a string and is at
 * most max_len bytes long; NULL otherwise. Borrowed from obj. */
const char *json_string_field(const json_t *obj, const char *key, size_t max_len);

#endif
