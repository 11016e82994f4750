/* test_log.c -- shared/log.c: level names, the minimum level filter and the
 * record format, read back from standard error redirected to a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse(NULL), -1);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse("warning"), -1);
    assert_int_equal(log_level_parse("inf"), -1);
    assert_int_equal(log_level_parse("info "), -1);
    assert_int_equal(log_level_parse("verbose"), -1);
}

/* Run `emit` with stderr going to a temporary file; returns its contents
 * (malloc'ed, NUL-terminated). */
static char *capture_stderr(void (*emit)(void))
{
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    emit();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    close(fd);
    return text;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void emit_all_levels(void)
{
    log_debug("req=/login d%d", 1);
    log_info("req=/login i%d", 2);
    log_warn("req=/login w%d", 3);
    log_error("req=/login e%d", 4);
}

static void test_default_level_is_info(void **state)
{
    (void)state;
    log_init("unit", NULL);
    char *out = capture_stderr(emit_all_levels);
    assert_int_equal(count_lines(out), 3);
    assert_null(strstr(out, "d1"));
    assert_non_null(strstr(out, " unit["));
    assert_non_null(strstr(out, "] info req=/login i2\n"));
    assert_non_null(strstr(out, "] warn req=/login w3\n"));
    assert_non_null(strstr(out, "] error req=/login e4\n"));
    free(out);
}

static void test_unknown_level_means_info(void **state)
{
    (void)state;
    log_init("unit", "loud");
    char *out = capture_stderr(emit_all_levels);
    assert_int_equal(count_lines(out), 3);
    assert_null(strstr(out, "d1"));
    free(out);
}

static void test_levels_filter(void **state)
{
    (void)state;
    log_init("unit", "debug");
    char *out = capture_stderr(emit_all_levels);
    assert_int_equal(count_lines(out), 4);
    assert_non_null(strstr(out, "] debug req=/login d1\n"));
    free(out);

    log_init("unit", "error");
    out = capture_stderr(emit_all_levels);
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "e4"));
    free(out);

    log_init("unit", "warn");
    out = capture_stderr(emit_all_levels);
    assert_int_equal(count_lines(out), 2);
    assert_null(strstr(out, "i2"));
    free(out);
}

static void emit_one(void)
{
    log_info("conn=7 hello");
}

static void test_record_format(void **state)
{
    (void)state;
    log_init("relay", "info");
    char *out = capture_stderr(emit_one);
    /* 2026-11-25T19:31:41.123Z relay[1234] info conn=7 hello */
    int y, mo, d, h, mi, s, ms, pid;
    char tail[64];
    assert_int_equal(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ relay[%d] info %63[^\n]", &y, &mo, &d, &h,
                            &mi, &s, &ms, &pid, tail),
                     9);
    assert_int_equal(pid, (int)getpid());
    assert_string_equal(tail, "conn=7 hello");
    assert_int_equal(count_lines(out), 1);
    assert_int_equal(out[strlen(out) - 1], '\n');
    free(out);
}

static void emit_long(void)
{
    static char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    log_warn("conn=1 %s", big);
}

static void test_long_record_truncated(void **state)
{
    (void)state;
    log_init("unit", "info");
    char *out = capture_stderr(emit_long);
    assert_int_equal(count_lines(out), 1);
    size_t len = strlen(out);
    assert_true(len <= 4096);
    assert_true(len > 4000);
    assert_memory_equal(out + len - 4, "...\n", 4);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_default_level_is_info),
        cmocka_unit_test(test_unknown_level_means_info),
        cmocka_unit_test(test_levels_filter),
        cmocka_unit_test(test_record_format),
        cmocka_unit_test(test_long_record_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
