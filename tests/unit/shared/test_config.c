/* test_config.c -- shared/config.c: every value type, suffixes, bounds,
 * defaults, and the exact error text an operator sees for a bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* An environment for config_load: NULL-terminated name/value pairs. */
static const char *table_lookup(const char *name, void *ctx)
{
    const char *const *kv = ctx;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

/* Parse `text` as one option of `type` with bounds; returns the status and
 * leaves the value in *out and the reason in err. */
static int parse(enum config_type type, long long min, long long max, const char *text,
                 long long *out, char *err, size_t errlen)
{
    long long target = 0;
    struct config_option opt = {"OPT", type, &target, "", min, max, "help"};
    err[0] = '\0';
    return config_parse_number(&opt, text, out, err, errlen);
}

/* Expect `text` to parse to `want`. */
static void ok(enum config_type type, const char *text, long long want)
{
    char err[256];
    long long v = -12345;
    if (parse(type, 0, 0, text, &v, err, sizeof(err)) != 0)
        fail_msg("\"%s\" was refused: %s", text, err);
    assert_int_equal(v, want);
}

/* Expect `text` to be refused with exactly the message `want`. */
static void bad(enum config_type type, long long min, long long max, const char *text,
                const char *want)
{
    char err[256];
    long long v = -12345;
    assert_int_equal(parse(type, min, max, text, &v, err, sizeof(err)), -1);
    assert_int_equal(v, -12345); /* untouched on error */
    assert_string_equal(err, want);
}

static void test_int(void **state)
{
    (void)state;
    ok(CONFIG_INT, "0", 0);
    ok(CONFIG_INT, "42", 42);
    ok(CONFIG_INT, "-7", -7);
    ok(CONFIG_INT, "9223372036854775807", 9223372036854775807LL);
    bad(CONFIG_INT, 0, 0, "", "OPT: \"\" is not a valid integer");
    bad(CONFIG_INT, 0, 0, "abc", "OPT: \"abc\" is not a valid integer");
    bad(CONFIG_INT, 0, 0, "4x", "OPT: \"4x\" is not a valid integer");
    bad(CONFIG_INT, 0, 0, "8K", "OPT: \"8K\" is not a valid integer"); /* no suffixes */
    bad(CONFIG_INT, 0, 0, "1.5", "OPT: \"1.5\" is not a valid integer");
    bad(CONFIG_INT, 0, 0, "99999999999999999999",
        "OPT: \"99999999999999999999\" is not a valid integer");
}

static void test_size_suffixes(void **state)
{
    (void)state;
    ok(CONFIG_SIZE, "100", 100);
    ok(CONFIG_SIZE, "64K", 64 * 1024);
    ok(CONFIG_SIZE, "64k", 64 * 1024);
    ok(CONFIG_SIZE, "10M", 10 * 1024 * 1024);
    ok(CONFIG_SIZE, "2G", 2LL * 1024 * 1024 * 1024);
    bad(CONFIG_SIZE, 0, 0, "10MB", "OPT: \"10MB\" is not a valid size (e.g. 64K, 10M)");
    bad(CONFIG_SIZE, 0, 0, "1T", "OPT: \"1T\" is not a valid size (e.g. 64K, 10M)");
    bad(CONFIG_SIZE, 0, 0, "K", "OPT: \"K\" is not a valid size (e.g. 64K, 10M)");
    bad(CONFIG_SIZE, 0, 0, "10 M", "OPT: \"10 M\" is not a valid size (e.g. 64K, 10M)");
    bad(CONFIG_SIZE, 0, 0, "9999999999G", "OPT: \"9999999999G\" is out of range");
}

static void test_duration_units(void **state)
{
    (void)state;
    ok(CONFIG_DURATION, "5", 5000); /* a bare number is seconds */
    ok(CONFIG_DURATION, "500ms", 500);
    ok(CONFIG_DURATION, "25s", 25000);
    ok(CONFIG_DURATION, "2m", 120000);
    ok(CONFIG_DURATION, "24h", 86400000);
    ok(CONFIG_DURATION, "7d", 7LL * 86400000);
    ok(CONFIG_DURATION, "0", 0);
    const char *kind = "duration (e.g. 500ms, 25s, 24h)";
    char want[128];
    static const char *const bad_values[] = {"5x", "1.5s", "s", "5 s", "5S", "10min", ""};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        snprintf(want, sizeof(want), "OPT: \"%s\" is not a valid %s", bad_values[i], kind);
        bad(CONFIG_DURATION, 0, 0, bad_values[i], want);
    }
    bad(CONFIG_DURATION, 0, 0, "9223372036854775807d", "OPT: \"9223372036854775807d\" is out of range");
}

static void test_bool(void **state)
{
    (void)state;
    static const char *const yes[] = {"1", "true", "yes", "on", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"0", "false", "no", "off", "FALSE", "No", "Off"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ok(CONFIG_BOOL, yes[i], 1);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ok(CONFIG_BOOL, no[i], 0);
    bad(CONFIG_BOOL, 0, 0, "maybe", "OPT: expected true or false, got \"maybe\"");
    bad(CONFIG_BOOL, 0, 0, "2", "OPT: expected true or false, got \"2\"");
    bad(CONFIG_BOOL, 0, 0, "", "OPT: expected true or false, got \"\"");
}

static void test_bounds(void **state)
{
    (void)state;
    char err[256];
    long long v = 0;
    assert_int_equal(parse(CONFIG_INT, 1, 64, "1", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 1);
    assert_int_equal(parse(CONFIG_INT, 1, 64, "64", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 64);
    bad(CONFIG_INT, 1, 64, "0", "OPT: 0 is outside [1, 64]");
    bad(CONFIG_INT, 1, 64, "65", "OPT: 65 is outside [1, 64]");
    bad(CONFIG_INT, 1, 64, "-1", "OPT: -1 is outside [1, 64]");
    /* bounds apply to the value after its unit: milliseconds, bytes */
    assert_int_equal(parse(CONFIG_DURATION, 100, 60000, "1m", &v, err, sizeof(err)), 0);
    assert_int_equal(v, 60000);
    bad(CONFIG_DURATION, 100, 60000, "61s", "OPT: 61000 is outside [100, 60000]");
    bad(CONFIG_DURATION, 100, 60000, "99ms", "OPT: 99 is outside [100, 60000]");
    bad(CONFIG_SIZE, 1, 1000, "1K", "OPT: 1024 is outside [1, 1000]");
}

static void test_error_text_truncated_safely(void **state)
{
    (void)state;
    char err[16];
    long long v;
    memset(err, 'Z', sizeof(err));
    assert_int_equal(parse(CONFIG_INT, 0, 0, "not-a-number", &v, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

static char *s_db, *s_api, *s_unset;
static long long n_workers, n_ttl, n_upload;
static bool b_flag;

static const struct config_option options[] = {
    {"DATABASE_URL", CONFIG_STRING, &s_db, "", 0, 0, "required"},
    {"WX_API_BASE", CONFIG_STRING, &s_api, "https://api.weixin.qq.com", 0, 0, "WeChat"},
    {"UNSET_STRING", CONFIG_STRING, &s_unset, "", 0, 0, "empty default: NULL"},
    {"LOGIN_WORKERS", CONFIG_INT, &n_workers, "8", 1, 256, "workers"},
    {"SESSION_TTL", CONFIG_DURATION, &n_ttl, "24h", 1000, 0x7fffffff, "ttl"},
    {"UPLOAD_MAX_BYTES", CONFIG_SIZE, &n_upload, "10M", 1, 1LL << 30, "upload"},
    {"FLAG", CONFIG_BOOL, &b_flag, "false", 0, 0, "flag"},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void test_load_defaults(void **state)
{
    (void)state;
    const char *env[] = {NULL};
    char err[256] = "";
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env, err, sizeof(err)), 0);
    assert_null(s_db);
    assert_string_equal(s_api, "https://api.weixin.qq.com");
    assert_null(s_unset);
    assert_int_equal(n_workers, 8);
    assert_int_equal(n_ttl, 86400000);
    assert_int_equal(n_upload, 10 * 1024 * 1024);
    assert_false(b_flag);
    config_free(options, N_OPTIONS);
    assert_null(s_api);
}

static void test_load_values_and_empty_means_default(void **state)
{
    (void)state;
    const char *env[] = {"DATABASE_URL", "postgresql:///chat", "WX_API_BASE", "",
                         "LOGIN_WORKERS", "3", "SESSION_TTL", "90s",
                         "UPLOAD_MAX_BYTES", "512K", "FLAG", "on", NULL};
    char err[256] = "";
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env, err, sizeof(err)), 0);
    assert_string_equal(s_db, "postgresql:///chat");
    assert_string_equal(s_api, "https://api.weixin.qq.com"); /* empty: default */
    assert_int_equal(n_workers, 3);
    assert_int_equal(n_ttl, 90000);
    assert_int_equal(n_upload, 512 * 1024);
    assert_true(b_flag);
    /* loading again replaces (and frees) the previous strings */
    const char *env2[] = {"DATABASE_URL", "postgresql:///other", NULL};
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env2, err, sizeof(err)), 0);
    assert_string_equal(s_db, "postgresql:///other");
    assert_int_equal(n_workers, 8);
    config_free(options, N_OPTIONS);
    assert_null(s_db);
    assert_null(s_api);
}

static void test_load_reports_first_bad_value(void **state)
{
    (void)state;
    const char *env[] = {"LOGIN_WORKERS", "0", "SESSION_TTL", "soon", NULL};
    char err[256] = "";
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env, err, sizeof(err)), -1);
    assert_string_equal(err, "LOGIN_WORKERS: 0 is outside [1, 256]");
    config_free(options, N_OPTIONS);

    const char *env2[] = {"SESSION_TTL", "soon", NULL};
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env2, err, sizeof(err)), -1);
    assert_string_equal(err, "SESSION_TTL: \"soon\" is not a valid duration (e.g. 500ms, 25s, 24h)");
    config_free(options, N_OPTIONS);

    const char *env3[] = {"FLAG", "perhaps", NULL};
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env3, err, sizeof(err)), -1);
    assert_string_equal(err, "FLAG: expected true or false, got \"perhaps\"");
    config_free(options, N_OPTIONS);

    const char *env4[] = {"UPLOAD_MAX_BYTES", "2G", NULL};
    assert_int_equal(config_load(options, N_OPTIONS, table_lookup, (void *)env4, err, sizeof(err)), -1);
    assert_string_equal(err, "UPLOAD_MAX_BYTES: 2147483648 is outside [1, 1073741824]");
    config_free(options, N_OPTIONS);
}

static void test_load_from_environment(void **state)
{
    (void)state;
    char err[256] = "";
    setenv("LOGIN_WORKERS", "5", 1);
    setenv("DATABASE_URL", "postgresql:///env", 1);
    assert_int_equal(config_load(options, N_OPTIONS, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(n_workers, 5);
    assert_string_equal(s_db, "postgresql:///env");
    unsetenv("LOGIN_WORKERS");
    unsetenv("DATABASE_URL");
    config_free(options, N_OPTIONS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_duration_units),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_error_text_truncated_safely),
        cmocka_unit_test(test_load_defaults),
        cmocka_unit_test(test_load_values_and_empty_means_default),
        cmocka_unit_test(test_load_reports_first_bad_value),
        cmocka_unit_test(test_load_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
