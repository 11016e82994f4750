/* upload.h -- receiving one image upload (multipart/form-data as
 * wx.uploadFile sends it) and storing it content-addressed.
 *
 * The caller (the /upload handlers) checks the session first, then hands the
 * request body over as a read function, so this module knows nothing of
 * FastCGI and its unit tests can feed it any bytes. The body is streamed to
 * a temporary file in cfg->dir (never held whole in memory), its type judged
 * from its magic bytes, and it is renamed to <sha256-hex>.<ext>: the same
 * image uploaded twice is one file. */
#ifndef LOGIN_UPLOAD_H
#define LOGIN_UPLOAD_H

#include <stddef.h>

struct upload_config {
    const char *dir;      /* where files are stored (nginx serves it at /files/) */
    const char *base_url; /* URL prefix of stored files, e.g. "/files/" */
    long long max_bytes;  /* largest accepted file (not body) size */
};

struct upload_result {
    char url[1024];  /* base_url + name */
    char name[80];   /* <sha256-hex>.<ext> */
    char mime[16];   /* image/png, image/jpeg, image/gif, image/webp */
    long long size;  /* bytes of the stored file */
};

enum upload_status {
    UPLOAD_OK = 0,
    UPLOAD_BAD_REQUEST,      /* 400: not multipart, no boundary, no file field, truncated */
    UPLOAD_TOO_LARGE,        /* 413: file over max_bytes */
    UPLOAD_UNSUPPORTED_TYPE, /* 415: not PNG, JPEG, GIF or WebP by content */
    UPLOAD_IO_ERROR          /* 500: the disk failed (logged) */
};

/* Reads up to len bytes of the request body into buf. Returns the number
 * read, 0 at the end of the body, or -1 on a read error. */
typedef long (*upload_read_fn)(void *ctx, char *buf, size_t len);

/* Receive one upload. content_type is the request's Content-Type (holding
 * the boundary); content_length is -1 when unknown. On UPLOAD_OK fills *out;
 * otherwise writes a reason a client may see into err. No partial or
 * temporary file is left behind on any path. */
enum upload_status upload_receive(const struct upload_config *cfg, const char *content_type,
                                  long long content_length, upload_read_fn read, void *ctx,
                                  struct upload_result *out, char *err, size_t errlen);

#endif
