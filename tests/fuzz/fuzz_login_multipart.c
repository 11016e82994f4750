/* fuzz_login_multipart.c -- libFuzzer target for the multipart/form-data
 * parser of uploads (multipart.h) and the boundary taken from the
 * Content-Type.
 *
 * The first input byte picks a mode:
 *  - even: the rest is "Content-Type value\nbody". The boundary is
 *    extracted (1..70 printable characters, or a reason); the body is then
 *    parsed in one go and again in chunks whose sizes come from the input:
 *    both must report the same events (parts, their headers and content)
 *    and the same result. No part's content holds the delimiter, parts
 *    begin and end in turn, and at most MULTIPART_PARTS_MAX of them.
 *  - odd: the rest describes a well-formed body (with a preamble when bit 1
 *    of the first byte is set): a boundary, then parts
 *    (name, content) separated by 0xff bytes. The target writes the body as
 *    a client would (skipping contents that hold the delimiter) and the
 *    parser must read back exactly those parts and report the body done. */
#include "fuzz_common.h"
#include "multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything the callbacks saw, as one byte log. */
struct record {
    char *log;
    size_t len, cap;
    int begun, ended;
    char delim[MULTIPART_BOUNDARY_MAX + 5];
    /* the current part's content, to look for the delimiter in it */
    char *content;
    size_t content_len, content_cap;
};

static void put(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (*len + n > *cap) {
        *cap = (*len + n) * 2 + 64;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static int on_begin(void *ctx, const struct multipart_part *part)
{
    struct record *r = ctx;
    FUZZ_CHECK(r->begun == r->ended && r->begun < MULTIPART_PARTS_MAX);
    FUZZ_CHECK(strlen(part->name) <= MULTIPART_NAME_MAX);
    r->begun++;
    char line[MULTIPART_NAME_MAX + 32];
    int n = snprintf(line, sizeof(line), "B%d%d%d[%s]", part->is_form_data, part->has_filename,
                     part->name_too_long, part->name);
    put(&r->log, &r->len, &r->cap, line, (size_t)n);
    r->content_len = 0;
    return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
    struct record *r = ctx;
    FUZZ_CHECK(n > 0 && r->begun == r->ended + 1);
    put(&r->log, &r->len, &r->cap, d, n);
    put(&r->content, &r->content_len, &r->content_cap, d, n);
    return 0;
}

static int on_end(void *ctx)
{
    struct record *r = ctx;
    FUZZ_CHECK(r->begun == r->ended + 1);
    r->ended++;
    put(&r->log, &r->len, &r->cap, "E", 1);
    size_t dl = strlen(r->delim);
    FUZZ_CHECK(!r->content_len || !memmem(r->content, r->content_len, r->delim, dl));
    return 0;
}

/* Two logs hold the same bytes. */
static bool same_log(const struct record *a, const char *log, size_t len)
{
    return a->len == len && (len == 0 || memcmp(a->log, log, len) == 0);
}

static const struct multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* Parse body with the given maximum chunk size (0: one go). */
static enum multipart_result parse(const char *boundary, const uint8_t *body, size_t len,
                                   size_t max_chunk, struct record *r)
{
    struct multipart_parser *p = malloc(sizeof(*p));
    memset(r, 0, sizeof(*r));
    snprintf(r->delim, sizeof(r->delim), "\r\n--%s", boundary);
    FUZZ_CHECK(multipart_init(p, boundary, &callbacks, r) == 0);
    enum multipart_result rc = MULTIPART_MORE;
    size_t off = 0;
    for (size_t k = 0; off < len || k == 0; k++) {
        size_t n = max_chunk ? fuzz_chunk(body, len, k, max_chunk) : len;
        if (n > len - off)
            n = len - off;
        rc = multipart_feed(p, (const char *)body + off, n);
        off += n;
        if (rc != MULTIPART_MORE)
            break;
    }
    FUZZ_CHECK(rc != MULTIPART_STOPPED); /* our callbacks never stop it */
    FUZZ_CHECK(multipart_complete(p) == (rc == MULTIPART_DONE));
    if (rc == MULTIPART_ERROR)
        FUZZ_CHECK(p->error[0] != '\0');
    FUZZ_CHECK(r->ended == r->begun || (r->ended + 1 == r->begun && rc != MULTIPART_DONE));
    free(p);
    return rc;
}

static void record_free(struct record *r)
{
    free(r->log);
    free(r->content);
}

/* Even mode: Content-Type line, then an arbitrary body. */
static void run_raw(const uint8_t *data, size_t size)
{
    size_t off = 0;
    char *ctype = fuzz_line(data, size, &off);
    char boundary[MULTIPART_BOUNDARY_MAX + 1], err[128] = "";
    if (multipart_boundary(ctype, boundary, sizeof(boundary), err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0] != '\0');
        free(ctype);
        return;
    }
    size_t blen = strlen(boundary);
    FUZZ_CHECK(blen >= 1 && blen <= MULTIPART_BOUNDARY_MAX);
    for (size_t i = 0; i < blen; i++)
        FUZZ_CHECK(boundary[i] >= 0x20 && boundary[i] <= 0x7e);
    struct record one, chunked;
    enum multipart_result a = parse(boundary, data + off, size - off, 0, &one);
    enum multipart_result b = parse(boundary, data + off, size - off, 97, &chunked);
    FUZZ_CHECK(a == b && same_log(&chunked, one.log, one.len));
    record_free(&chunked);
    parse(boundary, data + off, size - off, 3, &chunked);
    FUZZ_CHECK(same_log(&chunked, one.log, one.len));
    record_free(&chunked);
    record_free(&one);
    free(ctype);
}

/* Odd mode: a well-formed body built from the input. */
static void run_built(const uint8_t *data, size_t size, bool preamble)
{
    /* boundary: up to 70 bytes before the first 0xff, made printable, no space at the end */
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    size_t i = 0, bl = 0;
    for (; i < size && data[i] != 0xff; i++)
        if (bl < MULTIPART_BOUNDARY_MAX)
            boundary[bl++] = (char)(0x21 + data[i] % 0x5e);
    if (bl == 0)
        boundary[bl++] = 'b';
    boundary[bl] = '\0';
    char delim[MULTIPART_BOUNDARY_MAX + 5];
    snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    char *body = NULL, *want = NULL;
    size_t blen = 0, bcap = 0, wlen = 0, wcap = 0;
    put(&body, &blen, &bcap, "preamble\r\n", preamble ? 10 : 0);
    put(&body, &blen, &bcap, delim + 2, strlen(delim) - 2);
    int parts = 0;
    while (i < size && parts < MULTIPART_PARTS_MAX) {
        i++; /* the 0xff */
        size_t start = i;
        while (i < size && data[i] != 0xff)
            i++;
        const uint8_t *c = data + start;
        size_t clen = i - start;
        if (memmem(c, clen, delim, strlen(delim)))
            continue; /* a client picks a boundary that is not in the file */
        char head[128], name[16];
        snprintf(name, sizeof(name), "f%d", parts);
        int hn = snprintf(head, sizeof(head),
                          "\r\nContent-Disposition: form-data; name=\"%s\"%s\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n",
                          name, parts % 2 ? "; filename=\"a.png\"" : "");
        put(&body, &blen, &bcap, head, (size_t)hn);
        put(&body, &blen, &bcap, c, clen);
        put(&body, &blen, &bcap, delim, strlen(delim));
        char line[64];
        int ln = snprintf(line, sizeof(line), "B1%d0[%s]", parts % 2, name);
        put(&want, &wlen, &wcap, line, (size_t)ln);
        put(&want, &wlen, &wcap, c, clen);
        put(&want, &wlen, &wcap, "E", 1);
        parts++;
    }
    if (parts == 0) {
        free(body);
        free(want);
        return;
    }
    put(&body, &blen, &bcap, "--\r\nepilogue", 12);
    struct record r;
    enum multipart_result rc = parse(boundary, (const uint8_t *)body, blen, 29, &r);
    FUZZ_CHECK(rc == MULTIPART_DONE && r.begun == parts && r.ended == parts);
    FUZZ_CHECK(same_log(&r, want, wlen));
    record_free(&r);
    free(body);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        run_built(data + 1, size - 1, data[0] & 2);
    else
        run_raw(data + 1, size - 1);
    return 0;
}
