/* test_params.c -- header-or-query parameter look-up: the header wins,
 * names are case-insensitive, values are bounded; and the route table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth.h"
#include "params.h"
#include "router.h"

static void test_header_wins(void **state)
{
    (void)state;
    char *envp[] = {"HTTP_HOST=x", "HTTP_X_WX_CODE=from-header", NULL};
    char out[64];
    assert_int_equal(param_get(envp, "X-WX-Code=from-query", "X-WX-Code", out, sizeof(out)), 11);
    assert_string_equal(out, "from-header");
}

static void test_query_fallback_case_insensitive(void **state)
{
    (void)state;
    char *envp[] = {"HTTP_HOST=x", NULL};
    char out[64];
    assert_int_equal(param_get(envp, "a=1&x-wx-code=abc%2B%3D", "X-WX-Code", out, sizeof(out)), 5);
    assert_string_equal(out, "abc+=");
    assert_int_equal(param_get(envp, "X-WX-CODE=q", "x-wx-code", out, sizeof(out)), 1);
    assert_string_equal(out, "q");
    /* Header variable names are compared case-insensitively too. */
    char *lower[] = {"http_x_wx_skey=h", NULL};
    assert_int_equal(param_get(lower, NULL, "X-WX-Skey", out, sizeof(out)), 1);
    assert_string_equal(out, "h");
    /* Bytes above 127 in a name compare as themselves (not as negative chars);
     * a longer or shorter name is another variable. */
    char *high[] = {"HTTP_X_\xe4\xb8\xadX=long", "HTTP_X_\xe4\xb8=short", "HTTP_X_\xe4\xb8\xad=v", NULL};
    assert_int_equal(param_get(high, NULL, "x-\xe4\xb8\xad", out, sizeof(out)), 1);
    assert_string_equal(out, "v");
}

static void test_empty_header_falls_back(void **state)
{
    (void)state;
    char *envp[] = {"HTTP_X_WX_CODE=", NULL};
    char out[64];
    assert_int_equal(param_get(envp, "X-WX-Code=q", "X-WX-Code", out, sizeof(out)), 1);
    assert_int_equal(param_get(envp, "X-WX-Code=", "X-WX-Code", out, sizeof(out)), PARAM_MISSING);
    assert_int_equal(param_get(envp, "", "X-WX-Code", out, sizeof(out)), PARAM_MISSING);
    assert_int_equal(param_get(NULL, NULL, "X-WX-Code", out, sizeof(out)), PARAM_MISSING);
}

static void test_too_long_and_malformed(void **state)
{
    (void)state;
    char out[5]; /* values up to 4 bytes */
    char *envp[] = {"HTTP_X_WX_IV=12345", NULL};
    assert_int_equal(param_get(envp, NULL, "X-WX-IV", out, sizeof(out)), PARAM_TOO_LONG);
    char *fits[] = {"HTTP_X_WX_IV=1234", NULL};
    assert_int_equal(param_get(fits, NULL, "X-WX-IV", out, sizeof(out)), 4);
    assert_int_equal(param_get(NULL, "X-WX-IV=12345", "X-WX-IV", out, sizeof(out)), PARAM_TOO_LONG);
    assert_int_equal(param_get(NULL, "X-WX-IV=%41%41", "X-WX-IV", out, sizeof(out)), 2);
    assert_int_equal(param_get(NULL, "X-WX-IV=%4", "X-WX-IV", out, sizeof(out)), PARAM_MALFORMED);
    assert_int_equal(param_get(NULL, "X-WX-IV=a%00b", "X-WX-IV", out, sizeof(out)), PARAM_MALFORMED);
}

static void test_header_var(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(param_header_var("X-WX-Encrypted-Data", out, sizeof(out)), 0);
    assert_string_equal(out, "HTTP_X_WX_ENCRYPTED_DATA");
    assert_int_equal(param_header_var("X-WX-Encrypted-Data", out, 10), -1);
}

static void test_skey_format(void **state)
{
    (void)state;
    assert_true(auth_skey_well_formed("4dca1844521d3711ecf77810073592d884885d6be7ca0bf2fe1ea4312fe5d82f"));
    assert_false(auth_skey_well_formed("4dca1844521d3711ecf77810073592d884885d6be7ca0bf2fe1ea4312fe5d82"));
    assert_false(auth_skey_well_formed("zzca1844521d3711ecf77810073592d884885d6be7ca0bf2fe1ea4312fe5d82f"));
    assert_false(auth_skey_well_formed(""));
}

static void test_routes(void **state)
{
    (void)state;
    const struct route *r = router_find("/login");
    assert_non_null(r);
    assert_int_equal(r->envelope, ENVELOPE_WAFER);
    assert_true(r->methods & router_method_bit("GET"));
    assert_true(r->methods & router_method_bit("POST"));
    assert_false(r->methods & router_method_bit("DELETE"));
    r = router_find("/weapp/user");
    assert_non_null(r);
    assert_int_equal(r->envelope, ENVELOPE_WAFER2);
    r = router_find("/logout");
    assert_non_null(r);
    assert_false(r->methods & router_method_bit("GET"));
    assert_null(router_find("/weapp/nope"));
    assert_null(router_find("/login/"));
    assert_null(router_find(""));
    assert_int_equal(router_method_bit("get"), METHOD_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_wins),
        cmocka_unit_test(test_query_fallback_case_insensitive),
        cmocka_unit_test(test_empty_header_falls_back),
        cmocka_unit_test(test_too_long_and_malformed),
        cmocka_unit_test(test_header_var),
        cmocka_unit_test(test_skey_format),
        cmocka_unit_test(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
