/* fuzz_shared_query.c -- libFuzzer target for query_get()/query_decode():
 * the input is "name\nquery"; the result must be bounded and NUL-free. */
#include "query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *query = strchr(text, '\n');
    if (query)
        *query++ = '\0';
    char value[64];
    long n = query_get(query, text, value, sizeof(value));
    if (n >= 0 && ((size_t)n >= sizeof(value) || strlen(value) != (size_t)n))
        abort();
    free(text);
    return 0;
}
