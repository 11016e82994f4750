/* fuzz_login_params.c -- libFuzzer target for the wafer parameter look-up
 * (params.h): param_get() over a CGI environment and a query string.
 *
 * Input: "name\nquery\nENV=1\nENV=2...": the parameter name, the query
 * string, then environment entries (header variables such as
 * HTTP_X_WX_SKEY=...). Checked against the contract: a non-empty header
 * wins and is copied verbatim; otherwise the result is query_get()'s (an
 * empty value counts as missing); a value is NUL-free and fits; a smaller
 * buffer gives the same value or PARAM_TOO_LONG. */
#include "fuzz_common.h"
#include "params.h"
#include "query.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 16

/* The header's value by the contract: first entry whose key matches the
 * HTTP_ variable case-insensitively. */
static const char *expected_header(char *const *envp, const char *var)
{
    size_t n = strlen(var);
    for (; *envp; envp++)
        if (strlen(*envp) > n && (*envp)[n] == '=' && strncasecmp(*envp, var, n) == 0)
            return *envp + n + 1;
    return NULL;
}

static void check_var(const char *name)
{
    char var[128];
    if (param_header_var(name, var, sizeof(var)) < 0) {
        FUZZ_CHECK(strlen(name) + 6 > sizeof(var));
        return;
    }
    FUZZ_CHECK(strncmp(var, "HTTP_", 5) == 0 && strlen(var) == strlen(name) + 5);
    for (const char *c = var + 5; *c; c++)
        FUZZ_CHECK(*c != '-' && !islower((unsigned char)*c));
}

static void check_get(char *const *envp, const char *query, const char *name)
{
    char big[512], small[16], var[128];
    long n = param_get(envp, query, name, big, sizeof(big));
    long m = param_get(envp, query, name, small, sizeof(small));
    FUZZ_CHECK(n >= PARAM_MALFORMED && n < (long)sizeof(big));
    if (n >= 0) {
        FUZZ_CHECK(n > 0 && strlen(big) == (size_t)n);
        if (n < (long)sizeof(small))
            FUZZ_CHECK(m == n && strcmp(small, big) == 0);
        else
            FUZZ_CHECK(m == PARAM_TOO_LONG);
    } else if (n != PARAM_TOO_LONG) { /* a small buffer may run out before a bad escape */
        FUZZ_CHECK(m == n || (n == PARAM_MALFORMED && m == PARAM_TOO_LONG));
    }
    if (param_header_var(name, var, sizeof(var)) < 0) {
        FUZZ_CHECK(n == PARAM_TOO_LONG);
        return;
    }
    const char *h = expected_header(envp, var);
    if (h && *h) { /* the header wins, verbatim */
        FUZZ_CHECK(strlen(h) >= sizeof(big) ? n == PARAM_TOO_LONG : strcmp(big, h) == 0);
        return;
    }
    char q[512];
    long qn = query_get(query, name, q, sizeof(q));
    if (qn > 0)
        FUZZ_CHECK(n == qn && strcmp(big, q) == 0);
    else if (qn == 0 || qn == QUERY_NOT_FOUND)
        FUZZ_CHECK(n == PARAM_MISSING);
    else
        FUZZ_CHECK(n < 0 && n != PARAM_MISSING);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    char *name = fuzz_line(data, size, &off);
    char *query = fuzz_line(data, size, &off);
    char *env[MAX_ENV + 1];
    int n = 0;
    while (off < size && n < MAX_ENV)
        env[n++] = fuzz_line(data, size, &off);
    env[n] = NULL;
    check_var(name);
    check_get(env, query, name);
    check_get(env, NULL, name);
    static const char *const wafer[] = {"X-WX-Code", "X-WX-Skey", "X-WX-Encrypted-Data",
                                        "X-WX-IV", "X-WX-Raw-Data", "X-WX-Signature"};
    for (size_t i = 0; i < sizeof(wafer) / sizeof(wafer[0]); i++)
        check_get(env, query, wafer[i]);
    for (int i = 0; i < n; i++)
        free(env[i]);
    free(query);
    free(name);
    return 0;
}
