/* json_util.c -- bounded field access and encoding over jansson. */
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODE_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

static void encode_failed(void)
{
    fprintf(stderr, "fatal: json_dumpb failed (out of memory)\n");
    abort();
}

/* Encoded into a stack buffer first and copied once: json_dumps() grows
 * its buffer by doubling and copies it again at the end (several
 * allocations per relay frame; docs/performance-history.md, "Seventh
 * round, in short"). */
char *json_encode(const json_t *v, size_t *len)
{
    char stack[2048];
    size_t n = json_dumpb(v, stack, sizeof(stack), ENCODE_FLAGS);
    if (n == 0)
        encode_failed();
    char *text = malloc(n + 1);
    if (!text)
        encode_failed();
    if (n <= sizeof(stack))
        memcpy(text, stack, n);
    else if (json_dumpb(v, text, n, ENCODE_FLAGS) != n)
        encode_failed();
    text[n] = '\0';
    if (len)
        *len = n;
    return text;
}

const char *json_string_field(const json_t *obj, const char *key, size_t max_len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) > max_len)
        return NULL;
    return json_string_value(v);
}
