/* config.c -- table-driven configuration from environment variables. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *config_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static int parse_bool(const char *text, long long *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < countof(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(text, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Multiplier for a size or duration suffix; 0 when the suffix is unknown. */
static long long unit_multiplier(enum config_type type, const char *suffix)
{
    static const struct { const char *s; long long m; } sizes[] = {
        {"", 1}, {"k", 1024}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024LL * 1024 * 1024}};
    static const struct { const char *s; long long m; } durations[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (type == CONFIG_SIZE) {
        for (size_t i = 0; i < countof(sizes); i++)
            if (strcmp(suffix, sizes[i].s) == 0)
                return sizes[i].m;
    } else if (type == CONFIG_DURATION) {
        for (size_t i = 0; i < countof(durations); i++)
            if (strcmp(suffix, durations[i].s) == 0)
                return durations[i].m;
    } else if (*suffix == '\0') {
        return 1;
    }
    return 0;
}

int config_parse_number(const struct config_option *opt, const char *text, long long *out,
                        char *err, size_t errlen)
{
    if (opt->type == CONFIG_BOOL) {
        if (parse_bool(text, out) == 0)
            return 0;
        snprintf(err, errlen, "%s: expected true or false, got \"%s\"", opt->name, text);
        return -1;
    }
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    long long mult = unit_multiplier(opt->type, end);
    /* strtoll skips spaces and takes '+'; a setting is digits (and a sign
     * for plain integers only: a size or duration is never negative). */
    int starts_ok = (text[0] >= '0' && text[0] <= '9') || (text[0] == '-' && opt->type == CONFIG_INT);
    if (errno || end == text || mult == 0 || !starts_ok) {
        snprintf(err, errlen, "%s: \"%s\" is not a valid %s", opt->name, text,
                 opt->type == CONFIG_SIZE       ? "size (e.g. 64K, 10M)"
                 : opt->type == CONFIG_DURATION ? "duration (e.g. 500ms, 25s, 24h)"
                                                : "integer");
        return -1;
    }
    if (__builtin_mul_overflow(value, mult, &value)) {
        snprintf(err, errlen, "%s: \"%s\" is out of range", opt->name, text);
        return -1;
    }
    if ((opt->min || opt->max) && (value < opt->min || value > opt->max)) {
        snprintf(err, errlen, "%s: %lld is outside [%lld, %lld]", opt->name, value, opt->min,
                 opt->max);
        return -1;
    }
    *out = value;
    return 0;
}

static int load_one(const struct config_option *opt, const char *text, char *err, size_t errlen)
{
    if (opt->type == CONFIG_STRING) {
        char **target = opt->target;
        free(*target);
        *target = (text && *text) ? xstrdup(text) : NULL;
        return 0;
    }
    long long value;
    if (config_parse_number(opt, text ? text : "0", &value, err, errlen) < 0)
        return -1;
    if (opt->type == CONFIG_BOOL)
        *(bool *)opt->target = value != 0;
    else
        *(long long *)opt->target = value;
    return 0;
}

int config_load(const struct config_option *opts, size_t n, config_lookup_fn lookup, void *ctx,
                char *err, size_t errlen)
{
    if (!lookup)
        lookup = config_getenv;
    for (size_t i = 0; i < n; i++) {
        const char *text = lookup(opts[i].name, ctx);
        if (!text || !*text)
            text = opts[i].default_value;
        if (load_one(&opts[i], text, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void config_free(const struct config_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].type == CONFIG_STRING) {
            char **target = opts[i].target;
            free(*target);
            *target = NULL;
        }
    }
}

void config_print_help(const struct config_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("  %-24s (default: %s)\n      %s\n", opts[i].name,
               opts[i].default_value && *opts[i].default_value ? opts[i].default_value : "unset",
               opts[i].help);
}
