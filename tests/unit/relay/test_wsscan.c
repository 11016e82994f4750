/* test_wsscan.c -- frame boundary tracking: masked client frames of every
 * length form, split at every byte, and fragmented messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wsscan.h"

/* A masked client frame with `len` payload bytes into out; returns its size. */
static size_t client_frame(uint8_t *out, uint8_t b0, size_t len)
{
    size_t h = 0;
    out[h++] = b0;
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xFFFF) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    memcpy(out + h, "\x01\x02\x03\x04", 4);
    h += 4;
    memset(out + h, 'x', len);
    return h + len;
}

static uint8_t buf[70000 * 2];

static void test_every_split(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, 125, 126, 300, 65535, 65536};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(*sizes); k++) {
        size_t n = client_frame(buf, 0x81, sizes[k]);
        for (size_t cut = 1; cut < n; cut += (n > 400 ? 997 : 1)) {
            struct wsscan s = {0};
            wsscan_feed(&s, buf, cut);
            assert_false(wsscan_idle(&s));
            wsscan_feed(&s, buf + cut, n - cut);
            assert_true(wsscan_idle(&s));
        }
    }
}

static void test_fragments_and_control(void **state)
{
    (void)state;
    struct wsscan s = {0};
    size_t n = client_frame(buf, 0x01, 3); /* text, not final */
    wsscan_feed(&s, buf, n);
    assert_false(wsscan_idle(&s));
    n = client_frame(buf, 0x89, 0); /* ping between fragments */
    wsscan_feed(&s, buf, n);
    assert_false(wsscan_idle(&s));
    n = client_frame(buf, 0x80, 2); /* final continuation */
    wsscan_feed(&s, buf, n);
    assert_true(wsscan_idle(&s));
    n = client_frame(buf, 0x8A, 0); /* pong alone */
    size_t m = client_frame(buf + n, 0x81, 10);
    wsscan_feed(&s, buf, n + m); /* two frames in one read */
    assert_true(wsscan_idle(&s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_fragments_and_control),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
