/* http_token.c -- token lists of HTTP header values (see http_token.h). */
#include "http_token.h"

#include <string.h>
#include <strings.h>

bool http_has_token(const char *list, size_t len, const char *token)
{
    size_t tlen = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(list + start, token, tlen) == 0)
            return true;
    }
    return false;
}
