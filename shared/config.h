/* config.h -- configuration from environment variables, declared as a table.
 *
 * Each program lists its settings once (name, type, target, default, bounds,
 * help); config_load() fills the targets, and config_print_help() prints the
 * same table, so the README, the code and --help cannot disagree.
 *
 * Value syntax:
 *   CONFIG_STRING    any text (an empty default means "unset": target NULL)
 *   CONFIG_INT       decimal integer
 *   CONFIG_SIZE      bytes, with an optional K, M or G suffix (powers of 1024)
 *   CONFIG_DURATION  milliseconds in the target; text is a number with a
 *                    unit ms, s, m, h or d (a bare number means seconds)
 *   CONFIG_BOOL      1/0, true/false, yes/no, on/off */
#ifndef SHARED_CONFIG_H
#define SHARED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_SIZE, CONFIG_DURATION, CONFIG_BOOL };

struct config_option {
    const char *name;          /* environment variable */
    enum config_type type;
    void *target;              /* char ** for strings, long long * for numbers, bool * */
    const char *default_value; /* parsed like a value from the environment */
    long long min, max;        /* inclusive bounds for numbers (min == max == 0: none) */
    const char *help;
};

/* Looks a name up; getenv() in production, a table in unit tests. */
typedef const char *(*config_lookup_fn)(const char *name, void *ctx);

/* Parse one value of `opt`'s type and bounds into *out (numbers and bools;
 * strings are not parsed). Returns 0, or -1 with a reason in err. */
int config_parse_number(const struct config_option *opt, const char *text, long long *out,
                        char *err, size_t errlen);

/* Fill every target from `lookup` (NULL: getenv), falling back to defaults.
 * Returns 0, or -1 with "NAME: reason" in err for the first bad value. String
 * targets are malloc'ed copies; release them with config_free(). */
int config_load(const struct config_option *opts, size_t n, config_lookup_fn lookup, void *ctx,
                char *err, size_t errlen);

/* Free the strings config_load() allocated and set them to NULL. */
void config_free(const struct config_option *opts, size_t n);

/* Print "NAME (default X): help" for each option to stdout. */
void config_print_help(const struct config_option *opts, size_t n);

#endif
