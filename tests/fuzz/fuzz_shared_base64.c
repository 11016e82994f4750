/* fuzz_shared_base64.c -- libFuzzer target for base64_decode(): any input
 * either fails cleanly or decodes to bytes that encode back to the input. */
#include "crypto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *out = malloc(BASE64_DECODED_MAX(size));
    size_t out_len = 0;
    if (base64_decode((const char *)data, size, out, BASE64_DECODED_MAX(size), &out_len) == 0) {
        char *again = malloc(BASE64_ENCODED_LEN(out_len) + 1);
        size_t n = base64_encode(out, out_len, again);
        if (n != size || memcmp(again, data, size) != 0)
            abort(); /* a strict decoder accepts only canonical encodings */
        free(again);
    }
    free(out);
    return 0;
}
