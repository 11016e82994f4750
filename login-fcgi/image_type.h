/* image_type.h -- which image format a file is, judged from its first bytes
 * (magic numbers) only: never from a file name or a declared Content-Type. */
#ifndef LOGIN_IMAGE_TYPE_H
#define LOGIN_IMAGE_TYPE_H

#include <stddef.h>

/* Bytes needed to recognise every supported format (WebP: "RIFF"....+"WEBP"). */
#define IMAGE_MAGIC_MAX 12

enum image_type { IMAGE_UNKNOWN = 0, IMAGE_PNG, IMAGE_JPEG, IMAGE_GIF, IMAGE_WEBP };

/* Judge the start of a file: `head` holds its first `len` bytes (all of
 * them if the file is shorter than IMAGE_MAGIC_MAX). Returns IMAGE_UNKNOWN
 * for anything that is not PNG, JPEG, GIF (87a/89a) or WebP. */
enum image_type image_type_detect(const unsigned char *head, size_t len);

/* The MIME type ("image/png", ...) and file extension ("png", "jpg", "gif",
 * "webp") of a known type; NULL for IMAGE_UNKNOWN. Static strings. */
const char *image_type_mime(enum image_type t);
const char *image_type_ext(enum image_type t);

#endif
