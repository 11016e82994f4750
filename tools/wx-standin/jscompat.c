/* jscompat.c -- JavaScript's Number(string) and JSON.stringify text. */
#include "jscompat.h"
#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Byte length of the JavaScript white-space or line-terminator character
 * at s[0..n) (TAB, VT, FF, SP, NBSP, BOM, Zs, LF, CR, LS, PS), or 0. */
static size_t js_space_len(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0D)))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0)
        return 2;
    if (n < 3)
        return 0;
    unsigned cp = (unsigned)(s[0] & 0x0F) << 12 | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    if ((s[0] & 0xF0) != 0xE0)
        return 0;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF)
        return 3;
    return 0;
}

/* Trim JavaScript white space from both ends of s[0..*n). */
static const char *js_trim(const char *s, size_t *n)
{
    size_t k;
    while (*n && (k = js_space_len((const unsigned char *)s, *n)) > 0) {
        s += k;
        *n -= k;
    }
    for (;;) { /* from the end: try the 1-, 2- and 3-byte forms */
        size_t cut = 0;
        for (k = 1; k <= 3 && k <= *n && !cut; k++)
            if (js_space_len((const unsigned char *)s + *n - k, k) == k)
                cut = k;
        if (!cut)
            return s;
        *n -= cut;
    }
}

/* 0x, 0o, 0b integers: the digits after the prefix, or NaN. */
static double js_radix_integer(const char *s, size_t n, int radix)
{
    long double x = 0;
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] >= '0' && s[i] <= '9'                     ? s[i] - '0'
                : (s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f' ? (s[i] | 0x20) - 'a' + 10
                                                               : 99;
        if (d >= radix)
            return NAN;
        x = x * radix + d;
    }
    return (double)x;
}

/* Count decimal digits at s[*i..n) and advance *i past them. */
static size_t js_digits(const char *s, size_t n, size_t *i)
{
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9')
        (*i)++;
    return *i - start;
}

/* true when s[0..n) is a StrDecimalLiteral without Infinity. */
static bool js_decimal_syntax(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t whole = js_digits(s, n, &i), frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        frac = js_digits(s, n, &i);
    }
    if (whole + frac == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (js_digits(s, n, &i) == 0)
            return false;
    }
    return i == n;
}

double js_number(const char *s, size_t len)
{
    s = js_trim(s, &len);
    if (len == 0)
        return 0;
    if (len > 2 && s[0] == '0') {
        char p = (char)(s[1] | 0x20);
        if (p == 'x' || p == 'o' || p == 'b')
            return js_radix_integer(s + 2, len - 2, p == 'x' ? 16 : p == 'o' ? 8 : 2);
    }
    size_t sign = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if (len - sign == 8 && memcmp(s + sign, "Infinity", 8) == 0)
        return s[0] == '-' ? -INFINITY : INFINITY;
    if (!js_decimal_syntax(s, len))
        return NAN;
    char *copy = xstrndup(s, len);
    double x = strtod(copy, NULL);
    free(copy);
    return x;
}

json_t *js_number_json(double x, int *precision)
{
    if (!isfinite(x))
        return json_null();
    if (x == trunc(x) && fabs(x) <= 9007199254740992.0)
        return json_integer((json_int_t)x);
    char text[40];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(text, sizeof(text), "%.*g", p, x);
        if (strtod(text, NULL) == x)
            break;
    }
    if (p > *precision)
        *precision = p;
    return json_real(x);
}

/* jansson writes \u001F where JSON.stringify writes \u001f. */
static void lower_escapes(char *s)
{
    for (; *s; s++) {
        if (*s != '\\')
            continue;
        if (s[1] == 'u')
            for (int k = 2; k < 6 && s[k]; k++)
                if (s[k] >= 'A' && s[k] <= 'F')
                    s[k] = (char)(s[k] | 0x20);
        if (s[1])
            s++;
    }
}

char *js_json_text(const json_t *v, int precision, size_t *len)
{
    size_t flags = JSON_COMPACT;
    if (precision > 0)
        flags |= JSON_REAL_PRECISION(precision);
    char *text = json_dumps(v, flags);
    if (!text)
        return NULL;
    lower_escapes(text);
    *len = strlen(text);
    return text;
}
