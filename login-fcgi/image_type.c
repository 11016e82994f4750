/* image_type.c -- image format detection by magic bytes. */
#include "image_type.h"

#include <string.h>

static int starts_with(const unsigned char *head, size_t len, const void *magic, size_t n)
{
    return len >= n && memcmp(head, magic, n) == 0;
}

enum image_type image_type_detect(const unsigned char *head, size_t len)
{
    if (starts_with(head, len, "\x89PNG\r\n\x1a\n", 8)) return IMAGE_PNG;
    if (starts_with(head, len, "\xff\xd8\xff", 3)) return IMAGE_JPEG;
    if (starts_with(head, len, "GIF87a", 6) || starts_with(head, len, "GIF89a", 6)) return IMAGE_GIF;
    if (starts_with(head, len, "RIFF", 4) && len >= 12 && memcmp(head + 8, "WEBP", 4) == 0)
        return IMAGE_WEBP;
    return IMAGE_UNKNOWN;
}

const char *image_type_mime(enum image_type t)
{
    switch (t) {
    case IMAGE_PNG: return "image/png";
    case IMAGE_JPEG: return "image/jpeg";
    case IMAGE_GIF: return "image/gif";
    case IMAGE_WEBP: return "image/webp";
    default: return NULL;
    }
}

const char *image_type_ext(enum image_type t)
{
    switch (t) {
    case IMAGE_PNG: return "png";
    case IMAGE_JPEG: return "jpg";
    case IMAGE_GIF: return "gif";
    case IMAGE_WEBP: return "webp";
    default: return NULL;
    }
}
