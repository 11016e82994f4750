/* upload.c -- receive one image upload: the multipart body is parsed as it
 * is read (multipart.c), the "file" part is streamed into a temporary file
 * in the upload directory while being hashed with SHA-256, its type judged
 * from its magic bytes (image_type.c), and the file renamed to
 * <sha256-hex>.<ext>. Nothing but the file's bytes reaches the disk; the
 * client's file name is never used. */
#include "upload.h"

#include "image_type.h"
#include "log.h"
#include "multipart.h"

#include "crypto.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_READ_CHUNK 32768
/* Bytes of multipart framing and other form fields allowed around the file:
 * a body longer than max_bytes + this is refused before it is read. */
#define UPLOAD_BODY_OVERHEAD 65536

struct upload_state {
    const struct upload_config *cfg;
    enum upload_status status; /* set by the callbacks when they stop the parser */
    char *err;
    size_t errlen;
    bool in_file;   /* the current part is the file */
    bool file_seen; /* a "file" part has begun */
    bool file_done; /* ... and ended */
    unsigned char head[IMAGE_MAGIC_MAX];
    size_t head_len;
    enum image_type type;
    int fd; /* the temporary file, or -1 */
    char tmp_path[4096];
    EVP_MD_CTX *md;
    long long size;
};

/* Record a failure a client may see; returns -1 (stops the parser). */
static int fail(struct upload_state *s, enum upload_status st, const char *msg)
{
    s->status = st;
    snprintf(s->err, s->errlen, "%s", msg);
    return -1;
}

/* The same for code that returns a status rather than stopping the parser. */
static enum upload_status failed(struct upload_state *s, enum upload_status st, const char *msg)
{
    fail(s, st, msg);
    return st;
}

/* Create the temporary file (O_EXCL, 0644) in the upload directory. */
static int temp_open(struct upload_state *s)
{
    char rnd[33];
    if (crypto_random_hex(rnd, 16) < 0) return fail(s, UPLOAD_IO_ERROR, "could not store the file");
    int n = snprintf(s->tmp_path, sizeof s->tmp_path, "%s/.upload-%s.tmp", s->cfg->dir, rnd);
    if (n < 0 || (size_t)n >= sizeof s->tmp_path) {
        log_error("upload: dir=%s: path too long", s->cfg->dir);
        return fail(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->fd < 0) {
        log_error("upload: open %s: %s", s->tmp_path, strerror(errno));
        s->tmp_path[0] = '\0';
        return fail(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    if (fchmod(s->fd, 0644) < 0) { /* whatever the umask: nginx must read it */
        log_error("upload: fchmod %s: %s", s->tmp_path, strerror(errno));
        return fail(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    return 0;
}

/* Append file bytes to the temporary file and the hash. */
static int sink_write(struct upload_state *s, const void *data, size_t len)
{
    if (EVP_DigestUpdate(s->md, data, len) != 1) {
        log_error("upload: EVP_DigestUpdate failed");
        return fail(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(s->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            log_error("upload: write %s: %s", s->tmp_path, strerror(errno));
            return fail(s, UPLOAD_IO_ERROR, "could not store the file");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Judge the type from the bytes held in head; on success open the temporary
 * file and write them to it. */
static int decide_type(struct upload_state *s)
{
    s->type = image_type_detect(s->head, s->head_len);
    if (s->type == IMAGE_UNKNOWN)
        return fail(s, UPLOAD_UNSUPPORTED_TYPE, "the file is not a PNG, JPEG, GIF or WebP image");
    if (temp_open(s) < 0) return -1;
    return sink_write(s, s->head, s->head_len);
}

static int on_part_begin(void *ctx, const struct multipart_part *part)
{
    struct upload_state *s = ctx;
    s->in_file = part->is_form_data && !part->name_too_long && strcmp(part->name, "file") == 0;
    if (s->in_file && s->file_seen)
        return fail(s, UPLOAD_BAD_REQUEST, "more than one \"file\" field");
    if (s->in_file) s->file_seen = true;
    return 0;
}

static int on_part_data(void *ctx, const char *data, size_t len)
{
    struct upload_state *s = ctx;
    if (!s->in_file) return 0; /* another form field: read and ignored */
    s->size += (long long)len;
    /* the type first, then the size (max_bytes >= IMAGE_MAGIC_MAX): a file
     * both too large and not an image gets the same answer however the
     * body was split into reads */
    if (s->type == IMAGE_UNKNOWN) {
        size_t take = sizeof s->head - s->head_len;
        if (take > len) take = len;
        memcpy(s->head + s->head_len, data, take);
        s->head_len += take;
        data += take;
        len -= take;
        if (s->head_len < sizeof s->head) return 0;
        if (decide_type(s) < 0) return -1;
    }
    if (s->size > s->cfg->max_bytes) return fail(s, UPLOAD_TOO_LARGE, "the file is too large");
    return len ? sink_write(s, data, len) : 0;
}

static int on_part_end(void *ctx)
{
    struct upload_state *s = ctx;
    if (!s->in_file) return 0;
    s->in_file = false;
    s->file_done = true;
    if (s->type == IMAGE_UNKNOWN) return decide_type(s); /* shorter than IMAGE_MAGIC_MAX */
    return 0;
}

static const struct multipart_callbacks upload_callbacks = {
    .part_begin = on_part_begin,
    .part_data = on_part_data,
    .part_end = on_part_end,
};

/* Feed the body to the parser until the close delimiter; returns
 * UPLOAD_OK or the failure (with err set). Reading stops there: the caller
 * owns the request and discards what is left of the body (the epilogue, or
 * the rest of a refused upload) after answering. */
static enum upload_status receive_body(struct upload_state *s, struct multipart_parser *mp,
                                       upload_read_fn read, void *ctx)
{
    char buf[UPLOAD_READ_CHUNK];
    for (;;) {
        long n = read(ctx, buf, sizeof buf);
        if (n < 0) return failed(s, UPLOAD_BAD_REQUEST, "could not read the request body");
        if (n == 0) return failed(s, UPLOAD_BAD_REQUEST, "the body ended before the closing boundary");
        switch (multipart_feed(mp, buf, (size_t)n)) {
        case MULTIPART_MORE:
            break;
        case MULTIPART_DONE:
            if (!s->file_done) return failed(s, UPLOAD_BAD_REQUEST, "no \"file\" field in the form");
            return UPLOAD_OK;
        case MULTIPART_ERROR:
            snprintf(s->err, s->errlen, "malformed multipart body: %s", mp->error);
            return s->status = UPLOAD_BAD_REQUEST;
        case MULTIPART_STOPPED:
            return s->status;
        }
    }
}

/* Hash, fsync and move the temporary file to <sha256>.<ext>; fill out. */
static enum upload_status store(struct upload_state *s, struct upload_result *out)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestFinal_ex(s->md, digest, &dlen) != 1 || dlen != 32) {
        log_error("upload: EVP_DigestFinal_ex failed");
        return failed(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    char hex[65];
    for (unsigned i = 0; i < dlen; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    const char *ext = image_type_ext(s->type);
    char path[sizeof s->tmp_path];
    snprintf(out->name, sizeof out->name, "%s.%s", hex, ext);
    int n1 = snprintf(path, sizeof path, "%s/%s", s->cfg->dir, out->name);
    int n2 = snprintf(out->url, sizeof out->url, "%s%s", s->cfg->base_url, out->name);
    if (n1 < 0 || (size_t)n1 >= sizeof path || n2 < 0 || (size_t)n2 >= sizeof out->url) {
        log_error("upload: dir=%s: stored path or URL too long", s->cfg->dir);
        return failed(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    if (fsync(s->fd) < 0 || close(s->fd) < 0) {
        log_error("upload: fsync/close %s: %s", s->tmp_path, strerror(errno));
        s->fd = -1;
        return failed(s, UPLOAD_IO_ERROR, "could not store the file");
    }
    s->fd = -1;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == s->size) {
        unlink(s->tmp_path); /* the same image is already stored: keep that one */
        s->tmp_path[0] = '\0';
    } else if (rename(s->tmp_path, path) < 0) {
        log_error("upload: rename %s -> %s: %s", s->tmp_path, path, strerror(errno));
        return failed(s, UPLOAD_IO_ERROR, "could not store the file");
    } else {
        s->tmp_path[0] = '\0';
    }
    snprintf(out->mime, sizeof out->mime, "%s", image_type_mime(s->type));
    out->size = s->size;
    return UPLOAD_OK;
}

/* Release the hash and remove the temporary file if it still exists. */
static void cleanup(struct upload_state *s)
{
    if (s->fd >= 0) close(s->fd);
    if (s->tmp_path[0] && unlink(s->tmp_path) < 0 && errno != ENOENT)
        log_error("upload: unlink %s: %s", s->tmp_path, strerror(errno));
    EVP_MD_CTX_free(s->md);
}

enum upload_status upload_receive(const struct upload_config *cfg, const char *content_type,
                                  long long content_length, upload_read_fn read, void *ctx,
                                  struct upload_result *out, char *err, size_t errlen)
{
    struct upload_state s = {.cfg = cfg, .err = err, .errlen = errlen, .fd = -1};
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    struct multipart_parser *mp = NULL;
    enum upload_status st;
    if (errlen) err[0] = '\0';
    if (multipart_boundary(content_type, boundary, sizeof boundary, err, errlen) < 0) {
        st = UPLOAD_BAD_REQUEST;
    } else if (content_length > cfg->max_bytes + UPLOAD_BODY_OVERHEAD) {
        st = failed(&s, UPLOAD_TOO_LARGE, "the file is too large");
    } else if (!(s.md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
        log_error("upload: could not set up SHA-256");
        st = failed(&s, UPLOAD_IO_ERROR, "could not store the file");
    } else {
        mp = xmalloc(sizeof *mp);
        multipart_init(mp, boundary, &upload_callbacks, &s);
        st = receive_body(&s, mp, read, ctx);
        if (st == UPLOAD_OK) st = store(&s, out);
    }
    free(mp);
    cleanup(&s);
    return st;
}
