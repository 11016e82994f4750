/* fuzz_relay_utf8.c -- libFuzzer target for the relay's UTF-8 validator
 * (utf8.h). One-shot validation, incremental validation over splits at
 * positions derived from the input (one split at every byte, too) and an
 * independent reference decoder must all agree; a prefix that the
 * incremental validator refuses can never be completed; utf8_length()
 * counts the code points of valid text. */
#include "fuzz_common.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed data in chunks from fuzz_chunk(); true when every feed succeeded
 * and the text ends on a character boundary. */
static bool valid_chunked(const uint8_t *data, size_t size, size_t max_chunk)
{
    struct utf8_state s;
    utf8_init(&s);
    size_t off = 0;
    for (size_t k = 0; off < size; k++) {
        size_t n = fuzz_chunk(data, size, k, max_chunk);
        if (n > size - off)
            n = size - off;
        if (!utf8_feed(&s, data + off, n)) {
            /* refused: no prefix up to here is the start of valid text */
            FUZZ_CHECK(!fuzz_utf8_ok(data, size, NULL));
            return false;
        }
        off += n;
    }
    FUZZ_CHECK(utf8_feed(&s, data, 0)); /* an empty chunk changes nothing */
    return utf8_complete(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chars = 0;
    bool ref = fuzz_utf8_ok(data, size, &chars);
    bool once = utf8_valid(data, size);
    FUZZ_CHECK(once == ref);
    FUZZ_CHECK(valid_chunked(data, size, 1) == ref);
    FUZZ_CHECK(valid_chunked(data, size, 5) == ref);
    FUZZ_CHECK(valid_chunked(data, size, 300) == ref);
    if (ref)
        FUZZ_CHECK(utf8_length((const char *)data, size) == chars);
    /* every proper prefix of valid text is accepted by feed */
    if (ref && size) {
        struct utf8_state s;
        utf8_init(&s);
        FUZZ_CHECK(utf8_feed(&s, data, size - 1));
    }
    return 0;
}
