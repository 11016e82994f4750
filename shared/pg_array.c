/* pg_array.c -- PostgreSQL array literals (see pg_array.h). */
#include "pg_array.h"

#include "util.h"

#include <stdbool.h>
#include <string.h>

/* Append one element (quoted, escaped) or NULL, growing the buffer. */
static void array_add(char **buf, size_t *len, size_t *cap, const char *v, bool first)
{
    size_t need = (v ? 2 * strlen(v) : 0) + 8;
    if (*len + need >= *cap) {
        *cap = (*len + need) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    char *p = *buf + *len;
    if (!first)
        *p++ = ',';
    if (!v) {
        memcpy(p, "NULL", 4);
        p += 4;
    } else {
        *p++ = '"';
        for (const char *s = v; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *len = (size_t)(p - *buf);
}

char *pg_array_literal(const char *const *items, size_t n)
{
    size_t cap = 64, len = 1;
    char *buf = xmalloc(cap);
    buf[0] = '{';
    for (size_t i = 0; i < n; i++)
        array_add(&buf, &len, &cap, items[i], i == 0);
    if (len + 2 > cap)
        buf = xrealloc(buf, len + 2);
    buf[len] = '}';
    buf[len + 1] = '\0';
    return buf;
}
