/* fuzz_login_upload.c -- libFuzzer target for receiving an upload
 * (upload.h): the multipart body streamed through the parser, the "file"
 * part's type judged from its first bytes, its content written to a
 * temporary file, hashed and renamed to <sha256>.<ext>.
 *
 * Input: "Content-Type value\nbody". The body is received twice, read in
 * pieces of sizes taken from the input (as FastCGI hands them over) and in
 * one piece; both must give the same verdict and, on success, the same
 * stored file. A stored file's name is the SHA-256 of its bytes with the
 * extension of the type its first bytes show, its size is the reported
 * one and within the limit; whatever the verdict, no temporary file is
 * left behind. The files go to a private directory emptied after each
 * input. */
#include "crypto.h"
#include "fuzz_common.h"
#include "image_type.h"
#include "upload.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BYTES 2048

static char dir[64];

struct reader {
    const uint8_t *p;
    size_t len, off, k, max_piece; /* max_piece 0: whatever fits */
};

static long read_body(void *ctx, char *buf, size_t len)
{
    struct reader *r = ctx;
    size_t n = r->len - r->off;
    if (r->max_piece) {
        size_t piece = fuzz_chunk(r->p, r->len, r->k++, r->max_piece);
        if (n > piece)
            n = piece;
    }
    if (n > len)
        n = len;
    memcpy(buf, r->p + r->off, n);
    r->off += n;
    return (long)n;
}

/* Remove every file of the directory; returns how many were temporary. */
static int empty_dir(void)
{
    DIR *d = opendir(dir);
    FUZZ_CHECK(d != NULL);
    int tmp = 0;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        tmp += strstr(e->d_name, ".tmp") != NULL;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    return tmp;
}

/* The stored file matches its name, type and reported size. */
static void check_stored(const struct upload_result *res)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, res->name);
    FILE *f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL);
    unsigned char *buf = malloc(MAX_BYTES + 1);
    size_t n = fread(buf, 1, MAX_BYTES + 1, f);
    fclose(f);
    FUZZ_CHECK(n == (size_t)res->size && n <= MAX_BYTES);
    enum image_type t = image_type_detect(buf, n);
    FUZZ_CHECK(t != IMAGE_UNKNOWN && strcmp(res->mime, image_type_mime(t)) == 0);
    char want[80];
    unsigned char digest[CRYPTO_SHA256_LEN];
    FUZZ_CHECK(crypto_sha256(buf, n, digest) == 0);
    for (int i = 0; i < CRYPTO_SHA256_LEN; i++)
        snprintf(want + 2 * i, 3, "%02x", digest[i]);
    snprintf(want + 64, sizeof(want) - 64, ".%s", image_type_ext(t));
    FUZZ_CHECK(strcmp(res->name, want) == 0);
    FUZZ_CHECK(strncmp(res->url, "/files/", 7) == 0 && strcmp(res->url + 7, want) == 0);
    free(buf);
}

static enum upload_status receive(const char *ctype, const uint8_t *body, size_t len,
                                  size_t max_piece, struct upload_result *res)
{
    static const struct upload_config cfg = {dir, "/files/", MAX_BYTES};
    struct reader r = {body, len, 0, 0, max_piece};
    char err[256] = "";
    memset(res, 0, sizeof(*res));
    enum upload_status st = upload_receive(&cfg, ctype, (long long)len, read_body, &r, res, err,
                                           sizeof(err));
    FUZZ_CHECK(st >= UPLOAD_OK && st <= UPLOAD_IO_ERROR && st != UPLOAD_IO_ERROR);
    FUZZ_CHECK(st == UPLOAD_OK ? err[0] == '\0' : err[0] != '\0');
    if (st == UPLOAD_OK)
        check_stored(res);
    return st;
}

/* At exit: remove the private directory. */
static void remove_dir(void)
{
    empty_dir();
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/fuzz-upload.XXXXXX");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        atexit(remove_dir);
    }
    size_t off = 0;
    char *ctype = fuzz_line(data, size, &off);
    struct upload_result a, b;
    enum upload_status sa = receive(ctype, data + off, size - off, 7, &a);
    enum upload_status sb = receive(ctype, data + off, size - off, 0, &b);
    FUZZ_CHECK(sa == sb);
    if (sa == UPLOAD_OK)
        FUZZ_CHECK(strcmp(a.name, b.name) == 0 && a.size == b.size);
    FUZZ_CHECK(empty_dir() == 0); /* no temporary file left behind */
    free(ctype);
    return 0;
}
