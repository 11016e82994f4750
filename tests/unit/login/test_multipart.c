/* test_multipart.c -- the incremental multipart/form-data parser: boundary
 * extraction from Content-Type, parts and their names, preamble/epilogue,
 * every split of the body into chunks, boundary look-alikes in content,
 * and each malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define MAX_PARTS 8

/* What the callbacks saw. */
struct record {
    int nparts;
    struct multipart_part part[MAX_PARTS];
    char data[MAX_PARTS][4096];
    size_t len[MAX_PARTS];
    int ended;
    int stop_in_data; /* stop when data arrives for this part index + 1 */
};

static int rec_begin(void *ctx, const struct multipart_part *p)
{
    struct record *r = ctx;
    assert_int_equal(r->ended, r->nparts); /* the previous part was ended */
    if (r->nparts < MAX_PARTS) r->part[r->nparts] = *p;
    r->nparts++;
    return 0;
}

static int rec_data(void *ctx, const char *d, size_t n)
{
    struct record *r = ctx;
    assert_true(n > 0);
    int i = r->nparts - 1;
    if (r->stop_in_data == i + 1) return 1;
    if (i >= MAX_PARTS) return 0;
    assert_true(r->len[i] + n <= sizeof r->data[i]);
    memcpy(r->data[i] + r->len[i], d, n);
    r->len[i] += n;
    return 0;
}

static int rec_end(void *ctx)
{
    struct record *r = ctx;
    r->ended++;
    assert_int_equal(r->ended, r->nparts);
    return 0;
}

static const struct multipart_callbacks rec_cb = {rec_begin, rec_data, rec_end};

/* Feed body in chunks at the given split points; returns the last result. */
static enum multipart_result feed_split(struct multipart_parser *p, const char *body, size_t len,
                                        size_t split1, size_t split2)
{
    size_t cuts[] = {0, split1, split2, len};
    enum multipart_result rc = MULTIPART_MORE;
    for (int i = 0; i < 3; i++) {
        if (cuts[i + 1] < cuts[i]) continue;
        rc = multipart_feed(p, body + cuts[i], cuts[i + 1] - cuts[i]);
        if (rc == MULTIPART_ERROR || rc == MULTIPART_STOPPED) break;
    }
    return rc;
}

static enum multipart_result parse(const char *boundary, const char *body, size_t len,
                                   size_t s1, size_t s2, struct record *r,
                                   struct multipart_parser *p)
{
    int stop = r->stop_in_data;
    memset(r, 0, sizeof *r);
    r->stop_in_data = stop;
    assert_int_equal(multipart_init(p, boundary, &rec_cb, r), 0);
    return feed_split(p, body, len, s1, s2);
}

/* Parse body at every two-way split and byte by byte, expecting the same
 * parts every time, compared against the whole-body parse. */
static void check_every_split(const char *boundary, const char *body, size_t len,
                              enum multipart_result want, struct record *whole)
{
    static struct multipart_parser p;
    static struct record r;
    assert_int_equal(parse(boundary, body, len, len, len, whole, &p), want);
    for (size_t k = 0; k <= len; k++) {
        assert_int_equal(parse(boundary, body, len, k, len, &r, &p), want);
        assert_int_equal(r.nparts, whole->nparts);
        for (int i = 0; i < r.nparts; i++) {
            assert_string_equal(r.part[i].name, whole->part[i].name);
            assert_int_equal(r.len[i], whole->len[i]);
            assert_memory_equal(r.data[i], whole->data[i], r.len[i]);
        }
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(multipart_init(&p, boundary, &rec_cb, &r), 0);
    enum multipart_result rc = MULTIPART_MORE;
    for (size_t i = 0; i < len && rc == MULTIPART_MORE; i++) rc = multipart_feed(&p, body + i, 1);
    assert_int_equal(rc, want);
    assert_int_equal(r.nparts, whole->nparts);
    for (int i = 0; i < r.nparts; i++) assert_memory_equal(r.data[i], whole->data[i], r.len[i]);
}

#define BODY(s) (s), (sizeof(s) - 1)

static void test_boundary_from_content_type(void **state)
{
    (void)state;
    char b[MULTIPART_BOUNDARY_MAX + 1], err[128];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b, err, sizeof err), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(multipart_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b;c\"", b, sizeof b,
                                        err, sizeof err), 0);
    assert_string_equal(b, "a b;c");
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7Yz", b,
                                        sizeof b, err, sizeof err), 0);
    assert_string_equal(b, "----WebKitFormBoundaryx7Yz");
    assert_int_equal(multipart_boundary("multipart/form-data;boundary=\"q\\\"x\"", b, sizeof b, err, sizeof err), 0);
    assert_string_equal(b, "q\"x");
    const char *bad[] = {
        NULL, "", "text/plain; boundary=abc", "multipart/form-datax; boundary=abc",
        "multipart/mixed; boundary=abc", "multipart/form-data", "multipart/form-data; charset=utf-8",
        "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"unterminated",
        "multipart/form-data; boundary=12345678901234567890123456789012345678901234567890123456789012345678901",
        "multipart/form-data; boundary=\"a\001b\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(multipart_boundary(bad[i], b, sizeof b, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* exactly 70 characters is allowed */
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=1234567890123456789012345678901234567890123456789012345678901234567890",
                                        b, sizeof b, err, sizeof err), 0);
    assert_int_equal(strlen(b), 70);
}

static void test_two_parts_every_split(void **state)
{
    (void)state;
    struct record r = {0};
    const char body[] = "--XyZ\r\n"
                        "Content-Disposition: form-data; name=\"user\"\r\n\r\n"
                        "alice\r\n"
                        "--XyZ\r\n"
                        "content-disposition: form-data; filename=\"a.png\"; name=file\r\n"
                        "Content-Type: image/png\r\n\r\n"
                        "\x89PNG\r\n\x1a\n\0\0data\r\n"
                        "--XyZ--\r\n";
    check_every_split("XyZ", BODY(body), MULTIPART_DONE, &r);
    assert_int_equal(r.nparts, 2);
    assert_int_equal(r.ended, 2);
    assert_string_equal(r.part[0].name, "user");
    assert_false(r.part[0].has_filename);
    assert_true(r.part[0].is_form_data);
    assert_int_equal(r.len[0], 5);
    assert_memory_equal(r.data[0], "alice", 5);
    assert_string_equal(r.part[1].name, "file");
    assert_true(r.part[1].has_filename);
    assert_int_equal(r.len[1], 14);
    assert_memory_equal(r.data[1], "\x89PNG\r\n\x1a\n\0\0data", 14);
}

static void test_preamble_epilogue_padding(void **state)
{
    (void)state;
    struct record r = {0};
    static struct multipart_parser p;
    const char body[] = "This is the preamble.\r\n-b\r\n--c\r\nstill preamble --b\r\n"
                        "--b  \t\r\n"
                        "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                        "1\r\n"
                        "--b--  \r\nThis is the epilogue. --b\r\n--b\r\n";
    check_every_split("b", BODY(body), MULTIPART_DONE, &r);
    assert_int_equal(r.nparts, 1);
    assert_memory_equal(r.data[0], "1", 1);
    assert_int_equal(parse("b", BODY(body), 5, 9, &r, &p), MULTIPART_DONE);
    assert_true(multipart_complete(&p));
    /* feeding after the end is ignored */
    assert_int_equal(multipart_feed(&p, "garbage", 7), MULTIPART_DONE);
}

static void test_boundary_lookalikes_are_content(void **state)
{
    (void)state;
    struct record r = {0};
    /* Each of these is content: partial delimiters, a boundary not at a line
     * start, CR runs before the real delimiter, dashes. */
    const char body[] = "--bound\r\n"
                        "Content-Disposition: form-data; name=\"file\"\r\n\r\n"
                        "\r\n--boun\r\n-bound\r\n--Bound\n--bound\r--bound--bound\r\r\n\r\n--"
                        "\r\r\r\n"
                        "--bound\r\n"
                        "Content-Disposition: form-data; name=\"x\"\r\n\r\n"
                        "\r\n\r\n"
                        "--bound--";
    const char want[] = "\r\n--boun\r\n-bound\r\n--Bound\n--bound\r--bound--bound\r\r\n\r\n--\r\r";
    check_every_split("bound", BODY(body), MULTIPART_DONE, &r);
    assert_int_equal(r.nparts, 2);
    assert_int_equal(r.len[0], sizeof want - 1);
    assert_memory_equal(r.data[0], want, sizeof want - 1);
    assert_int_equal(r.len[1], 2);
    assert_memory_equal(r.data[1], "\r\n", 2);
}

static void test_header_variants(void **state)
{
    (void)state;
    struct record r = {0};
    static struct multipart_parser p;
    const char body[] = "--b\r\n"
                        "CONTENT-DISPOSITION: form-data; filename=\"name=\\\"file\\\"\"; name=\"other\"\r\n\r\n"
                        "x\r\n--b\r\n"
                        "Content-Disposition: form-data;\r\n name=\"a;b\"\r\n\r\n"
                        "y\r\n--b\r\n"
                        "\r\n"
                        "no headers\r\n--b\r\n"
                        "Content-Disposition: attachment; name=\"file\"\r\n\r\n"
                        "z\r\n--b\r\n"
                        "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%e2%82%ac.png\r\n\r\n"
                        "w\r\n--b\r\n"
                        "Content-Disposition: form-data; name=\"12345678901234567890123456789012345678901234567890123456789012345\"\r\n\r\n"
                        "v\r\n--b--";
    assert_int_equal(parse("b", BODY(body), 0, 0, &r, &p), MULTIPART_DONE);
    assert_int_equal(r.nparts, 6);
    assert_string_equal(r.part[0].name, "other");
    assert_true(r.part[0].has_filename);
    assert_string_equal(r.part[1].name, "a;b");
    assert_string_equal(r.part[2].name, "");
    assert_false(r.part[2].is_form_data);
    assert_memory_equal(r.data[2], "no headers", 10);
    assert_false(r.part[3].is_form_data);
    assert_string_equal(r.part[4].name, "file");
    assert_true(r.part[4].has_filename);
    assert_true(r.part[5].name_too_long);
}

static void expect_error(const char *boundary, const char *body, size_t len)
{
    struct record r = {0};
    static struct multipart_parser p;
    assert_int_equal(parse(boundary, body, len, len, len, &r, &p), MULTIPART_ERROR);
    assert_true(p.error[0] != '\0');
    assert_false(multipart_complete(&p));
    /* the parser stays dead */
    assert_int_equal(multipart_feed(&p, "--b--", 5), MULTIPART_ERROR);
}

static void test_malformed_bodies(void **state)
{
    (void)state;
    expect_error("b", BODY("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nxx\r\n--bX\r\n--b--"));
    expect_error("b", BODY("--bjunk\r\n"));
    expect_error("b", BODY("--b-x"));
    expect_error("b", BODY("--b \tx\r\n"));
    expect_error("b", BODY("--b\rX"));
    expect_error("b", BODY("--b\r\nno colon here\r\n\r\nx\r\n--b--"));
    expect_error("b", BODY("--b\r\n: empty name\r\n\r\nx\r\n--b--"));
    expect_error("b", BODY("--b\r\nContent-Disposition: form-data; name=\"unterminated\r\n\r\nx\r\n--b--"));
    expect_error("b", BODY("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n"
                           "Content-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--"));
    expect_error("b", BODY("--b\r\nX-A: \0\r\n\r\nx\r\n--b--"));
    /* a header block over the limit */
    static char big[MULTIPART_HEADER_MAX + 64];
    size_t n = (size_t)snprintf(big, sizeof big, "--b\r\nX-Long: ");
    memset(big + n, 'a', sizeof big - n);
    expect_error("b", big, sizeof big);
    /* too many parts */
    static char many[(MULTIPART_PARTS_MAX + 2) * 16];
    n = 0;
    for (int i = 0; i < MULTIPART_PARTS_MAX + 1; i++) n += (size_t)sprintf(many + n, "--b\r\n\r\nx\r\n");
    n += (size_t)sprintf(many + n, "--b--");
    expect_error("b", many, n);
}

static void test_truncated_bodies_are_incomplete(void **state)
{
    (void)state;
    const char body[] = "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--b--";
    struct record r = {0};
    static struct multipart_parser p;
    for (size_t k = 0; k < sizeof body - 1; k++) {
        enum multipart_result rc = parse("b", body, k, k, k, &r, &p);
        assert_int_equal(rc, MULTIPART_MORE);
        assert_false(multipart_complete(&p));
    }
    assert_int_equal(parse("b", BODY(body), 3, 40, &r, &p), MULTIPART_DONE);
    assert_true(multipart_complete(&p));
    /* nothing at all, or only a preamble */
    assert_int_equal(parse("b", BODY("just text, no boundary\r\n"), 0, 0, &r, &p), MULTIPART_MORE);
    assert_int_equal(r.nparts, 0);
    /* a close delimiter only: complete, no parts */
    assert_int_equal(parse("b", BODY("--b--\r\n"), 0, 0, &r, &p), MULTIPART_DONE);
    assert_int_equal(r.nparts, 0);
}

static void test_callback_stop(void **state)
{
    (void)state;
    const char body[] = "--b\r\n\r\nfirst\r\n--b\r\n\r\nsecond\r\n--b--";
    struct record r = {.stop_in_data = 2};
    static struct multipart_parser p;
    assert_int_equal(parse("b", BODY(body), 0, 0, &r, &p), MULTIPART_STOPPED);
    assert_int_equal(r.nparts, 2);
    assert_memory_equal(r.data[0], "first", 5);
    assert_int_equal(p.error[0], '\0');
    assert_int_equal(multipart_feed(&p, "x", 1), MULTIPART_STOPPED);
}

static void test_init_rejects_bad_boundary(void **state)
{
    (void)state;
    static struct multipart_parser p;
    assert_int_equal(multipart_init(&p, "", &rec_cb, NULL), -1);
    char b[80];
    memset(b, 'a', 71);
    b[71] = '\0';
    assert_int_equal(multipart_init(&p, b, &rec_cb, NULL), -1);
    b[70] = '\0';
    assert_int_equal(multipart_init(&p, b, NULL, NULL), 0);
    /* no callbacks at all is fine */
    assert_int_equal(multipart_feed(&p, "x", 1), MULTIPART_MORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_from_content_type),
        cmocka_unit_test(test_two_parts_every_split),
        cmocka_unit_test(test_preamble_epilogue_padding),
        cmocka_unit_test(test_boundary_lookalikes_are_content),
        cmocka_unit_test(test_header_variants),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_truncated_bodies_are_incomplete),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_init_rejects_bad_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
