/* fuzz_login_image_type.c -- libFuzzer target for image type sniffing
 * (image_type.h): the input is the start of an uploaded file.
 *
 * The verdict depends on the first IMAGE_MAGIC_MAX bytes only, agrees with
 * the magic numbers written out here, and a known type has a MIME type and
 * extension that belong together (an unknown one has neither). */
#include "fuzz_common.h"
#include "image_type.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool starts(const uint8_t *d, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(d, magic, m) == 0;
}

static enum image_type expected(const uint8_t *d, size_t n)
{
    if (starts(d, n, "\x89PNG\r\n\x1a\n", 8))
        return IMAGE_PNG;
    if (starts(d, n, "\xff\xd8\xff", 3))
        return IMAGE_JPEG;
    if (starts(d, n, "GIF87a", 6) || starts(d, n, "GIF89a", 6))
        return IMAGE_GIF;
    if (starts(d, n, "RIFF", 4) && n >= 12 && memcmp(d + 8, "WEBP", 4) == 0)
        return IMAGE_WEBP;
    return IMAGE_UNKNOWN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum image_type t = image_type_detect(data, size);
    size_t head = size < IMAGE_MAGIC_MAX ? size : IMAGE_MAGIC_MAX;
    FUZZ_CHECK(t == image_type_detect(data, head));
    FUZZ_CHECK(t == expected(data, size));
    const char *mime = image_type_mime(t), *ext = image_type_ext(t);
    FUZZ_CHECK((t == IMAGE_UNKNOWN) == (mime == NULL) && (mime == NULL) == (ext == NULL));
    if (t != IMAGE_UNKNOWN) {
        FUZZ_CHECK(strncmp(mime, "image/", 6) == 0 && strlen(mime) < 16);
        FUZZ_CHECK(strcmp(ext, t == IMAGE_JPEG ? "jpg" : mime + 6) == 0);
    }
    return 0;
}
