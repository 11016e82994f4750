/* params.c -- header-or-query look-up of request parameters. */
#include "params.h"

#include "query.h"

#include <ctype.h>
#include <string.h>

int param_header_var(const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    if (n + 6 > cap)
        return -1;
    memcpy(out, "HTTP_", 5);
    for (size_t i = 0; i < n; i++)
        out[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    out[5 + n] = '\0';
    return 0;
}

/* The value of `var` (upper case, as param_header_var() makes it) in
 * envp, names compared case-insensitively, or NULL. Most names differ in
 * their first characters, so a plain loop that stops there beats calling
 * strncasecmp() for each of the twenty-odd parameters. */
static const char *env_find(char *const *envp, const char *var)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        size_t i = 0;
        while (var[i] && toupper((unsigned char)e[i]) == (unsigned char)var[i])
            i++;
        if (!var[i] && e[i] == '=')
            return e + i + 1;
    }
    return NULL;
}

long param_get(char *const *envp, const char *query, const char *name, char *out, size_t cap)
{
    char var[128];
    if (cap == 0 || param_header_var(name, var, sizeof(var)) < 0)
        return PARAM_TOO_LONG;
    const char *header = env_find(envp, var);
    if (header && *header) {
        size_t len = strlen(header);
        if (len >= cap)
            return PARAM_TOO_LONG;
        memcpy(out, header, len + 1);
        return (long)len;
    }
    long len = query_get(query, name, out, cap);
    switch (len) {
    case QUERY_NOT_FOUND:
        return PARAM_MISSING;
    case QUERY_TOO_LONG:
        return PARAM_TOO_LONG;
    case QUERY_MALFORMED:
        return PARAM_MALFORMED;
    default:
        return len == 0 ? PARAM_MISSING : len;
    }
}
