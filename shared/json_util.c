/* json_util.c -- bounded field access and encoding over jansson. */
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>

char *json_encode(const json_t *v, size_t *len)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        fprintf(stderr, "fatal: json_dumps failed (out of memory)\n");
        abort();
    }
    if (len) {
        size_t n = 0;
        while (text[n])
            n++;
        *len = n;
    }
    return text;
}

const char *json_string_field(const json_t *obj, const char *key, size_t max_len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) > max_len)
        return NULL;
    return json_string_value(v);
}
