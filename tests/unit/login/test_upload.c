/* test_upload.c -- upload_receive() fed through a scripted read function:
 * each image type stored as <sha256>.<ext>, every split of the body, image
 * bytes that look like the boundary, wx.uploadFile's extra form fields, and
 * every failure (400, 413, 415, 500) with no file left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "upload.h"

/* --- a scripted request body --------------------------------------------------- */

struct script {
    const char *data;
    size_t len, pos;
    size_t first;   /* size of the first read (0: like the others) */
    size_t chunk;   /* size of every other read */
    long fail_at;   /* return -1 once pos reaches this (-1: never) */
    int reads;
};

static long script_read(void *ctx, char *buf, size_t len)
{
    struct script *s = ctx;
    if (s->fail_at >= 0 && s->pos >= (size_t)s->fail_at) return -1;
    size_t want = s->reads == 0 && s->first ? s->first : s->chunk;
    if (want > len) want = len;
    if (want > s->len - s->pos) want = s->len - s->pos;
    memcpy(buf, s->data + s->pos, want);
    s->pos += want;
    s->reads++;
    return (long)want;
}

/* --- bodies --------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
    b->p = realloc(b->p, b->len + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/* A body with optional form fields around one file part. */
static struct buf make_body(const char *boundary, const char *disposition, const void *file,
                            size_t flen, bool fields)
{
    struct buf b = {0};
    char line[512];
    if (fields) {
        snprintf(line, sizeof line, "--%s\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n", boundary);
        buf_str(&b, line);
    }
    snprintf(line, sizeof line, "--%s\r\nContent-Disposition: %s\r\nContent-Type: image/png\r\n\r\n",
             boundary, disposition);
    buf_str(&b, line);
    buf_add(&b, file, flen);
    if (fields) {
        snprintf(line, sizeof line, "\r\n--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi", boundary);
        buf_str(&b, line);
    }
    snprintf(line, sizeof line, "\r\n--%s--\r\n", boundary);
    buf_str(&b, line);
    return b;
}

#define CT "multipart/form-data; boundary=XbOuNdArY"
#define FILE_DISP "form-data; name=\"file\"; filename=\"tmp_1.png\""

/* Small images: only the first bytes are judged, the rest is opaque. The PNG
 * carries a copy of the delimiter's prefix and CR LF runs. */
static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n--XbOuNdAr\r\n--XbOuNdArXz\r\r\n\r\n-";
static const unsigned char jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9";
static const unsigned char gif[] = "GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,;";
static const unsigned char webp[] = "RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0";

/* --- the upload directory ------------------------------------------------------- */

struct fixture {
    char parent[64]; /* a temporary directory holding `dir` */
    char dir[96];
    struct upload_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->parent, sizeof f->parent, "/tmp/test_upload.XXXXXX");
    if (!mkdtemp(f->parent)) return -1;
    snprintf(f->dir, sizeof f->dir, "%s/files", f->parent);
    if (mkdir(f->dir, 0755) < 0) return -1;
    f->cfg = (struct upload_config){f->dir, "/files/", 1000};
    *state = f;
    return 0;
}

/* Entries of a directory (dot files included, . and .. not). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    char path[512];
    for (struct dirent *e; d && (e = readdir(d));) {
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(path);
    }
    if (d) closedir(d);
    rmdir(f->dir);
    rmdir(f->parent);
    free(f);
    return 0;
}

static enum upload_status run(struct fixture *f, const char *ct, const struct buf *b, size_t first,
                              size_t chunk, struct upload_result *out, char *err)
{
    struct script s = {b->p, b->len, 0, first, chunk, -1, 0};
    return upload_receive(&f->cfg, ct, (long long)b->len, script_read, &s, out, err, 256);
}

static void sha256_name(const void *data, size_t len, const char *ext, char *out)
{
    unsigned char d[32];
    assert_int_equal(crypto_sha256(data, len, d), 0);
    for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
    sprintf(out + 64, ".%s", ext);
}

/* The stored file has exactly these bytes, mode 0644. */
static void assert_stored(struct fixture *f, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size, (off_t)len);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *got = malloc(len + 1);
    assert_int_equal(fread(got, 1, len + 1, fp), len);
    fclose(fp);
    assert_memory_equal(got, data, len);
    free(got);
}

static void check_type(void **state, const unsigned char *img, size_t len, const char *ext,
                       const char *mime)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, img, len, false);
    struct upload_result out;
    char err[256], name[80], url[128];
    assert_int_equal(run(f, CT, &b, 0, 4096, &out, err), UPLOAD_OK);
    sha256_name(img, len, ext, name);
    snprintf(url, sizeof url, "/files/%s", name);
    assert_string_equal(out.name, name);
    assert_string_equal(out.url, url);
    assert_string_equal(out.mime, mime);
    assert_int_equal(out.size, (long long)len);
    assert_stored(f, name, img, len);
    assert_int_equal(count_entries(f->dir), 1);
    free(b.p);
}

static void test_png(void **state) { check_type(state, png, sizeof png - 1, "png", "image/png"); }
static void test_jpeg(void **state) { check_type(state, jpeg, sizeof jpeg - 1, "jpg", "image/jpeg"); }
static void test_gif(void **state) { check_type(state, gif, sizeof gif - 1, "gif", "image/gif"); }
static void test_webp(void **state) { check_type(state, webp, sizeof webp - 1, "webp", "image/webp"); }

/* Every split of the body into two reads, and one byte per read. */
static void test_every_split(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, true);
    char name[80], err[256];
    sha256_name(png, sizeof png - 1, "png", name);
    for (size_t k = 1; k <= b.len; k++) {
        struct upload_result out;
        assert_int_equal(run(f, CT, &b, k, b.len, &out, err), UPLOAD_OK);
        assert_string_equal(out.name, name);
        assert_int_equal(count_entries(f->dir), 1);
    }
    struct upload_result out;
    assert_int_equal(run(f, CT, &b, 0, 1, &out, err), UPLOAD_OK);
    assert_string_equal(out.name, name);
    assert_stored(f, name, png, sizeof png - 1);
    free(b.p);
}

/* As wx.uploadFile sends it: formData fields, a wxfile:// name, quoted boundary. */
static void test_wx_upload_file_shape(void **state)
{
    struct fixture *f = *state;
    const char *bd = "----WebKitFormBoundaryq1w2e3r4t5y6u7i8";
    struct buf b = {0};
    char head[512];
    snprintf(head, sizeof head,
             "--%s\r\nContent-Disposition: form-data; name=\"room\"\r\n\r\nlobby\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"wxfile://tmp_a1b2.jpg\"\r\n"
             "Content-Type: image/jpeg\r\n\r\n", bd, bd);
    buf_str(&b, head);
    buf_add(&b, jpeg, sizeof jpeg - 1);
    snprintf(head, sizeof head, "\r\n--%s--\r\n", bd);
    buf_str(&b, head);
    struct upload_result out;
    char err[256], name[80];
    assert_int_equal(run(f, "multipart/form-data; boundary=\"----WebKitFormBoundaryq1w2e3r4t5y6u7i8\"",
                         &b, 0, 7, &out, err), UPLOAD_OK);
    sha256_name(jpeg, sizeof jpeg - 1, "jpg", name);
    assert_string_equal(out.name, name);
    free(b.p);
}

/* A hostile file name never names the stored file. */
static void test_hostile_filename(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", "form-data; name=\"file\"; filename=\"../../evil.png\"",
                             gif, sizeof gif - 1, false);
    struct upload_result out;
    char err[256];
    assert_int_equal(run(f, CT, &b, 0, 64, &out, err), UPLOAD_OK);
    assert_null(strchr(out.name, '/'));
    assert_int_equal(count_entries(f->dir), 1);
    assert_int_equal(count_entries(f->parent), 1); /* only files/ */
    free(b.p);
}

static void test_same_image_twice_is_one_file(void **state)
{
    struct fixture *f = *state;
    struct buf b1 = make_body("XbOuNdArY", FILE_DISP, webp, sizeof webp - 1, false);
    struct buf b2 = make_body("XbOuNdArY", "form-data; name=\"file\"; filename=\"other.webp\"",
                              webp, sizeof webp - 1, true);
    struct upload_result o1, o2;
    char err[256];
    assert_int_equal(run(f, CT, &b1, 0, 100, &o1, err), UPLOAD_OK);
    assert_int_equal(run(f, CT, &b2, 0, 3, &o2, err), UPLOAD_OK);
    assert_string_equal(o1.url, o2.url);
    assert_int_equal(count_entries(f->dir), 1);
    free(b1.p);
    free(b2.p);
}

/* A failure: its status, a message, and an empty directory. */
static void expect_failure(struct fixture *f, const char *ct, const struct buf *b, size_t chunk,
                           enum upload_status want)
{
    struct upload_result out;
    char err[256] = "";
    assert_int_equal(run(f, ct, b, 0, chunk, &out, err), want);
    assert_true(err[0] != '\0');
    assert_int_equal(count_entries(f->dir), 0);
}

static void test_bad_content_type(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, false);
    expect_failure(f, NULL, &b, 100, UPLOAD_BAD_REQUEST);
    expect_failure(f, "image/png", &b, 100, UPLOAD_BAD_REQUEST);
    expect_failure(f, "multipart/form-data", &b, 100, UPLOAD_BAD_REQUEST);
    expect_failure(f, "multipart/form-data; boundary=other", &b, 100, UPLOAD_BAD_REQUEST);
    free(b.p);
}

static void test_no_file_field(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", "form-data; name=\"image\"; filename=\"a.png\"", png,
                             sizeof png - 1, true);
    expect_failure(f, CT, &b, 100, UPLOAD_BAD_REQUEST);
    free(b.p);
    struct buf empty = {0};
    buf_str(&empty, "--XbOuNdArY--\r\n");
    expect_failure(f, CT, &empty, 100, UPLOAD_BAD_REQUEST);
    free(empty.p);
}

static void test_two_file_fields(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, false);
    b.len -= strlen("--\r\n"); /* reopen after the first part */
    buf_str(&b, "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nGIF89a......\r\n--XbOuNdArY--");
    expect_failure(f, CT, &b, 100, UPLOAD_BAD_REQUEST);
    free(b.p);
}

/* Every prefix of a valid body is a truncated body: 400, nothing stored. */
static void test_truncated_everywhere(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, true);
    size_t full = b.len;
    for (size_t k = 0; k < full - 2; k++) { /* the final CRLF is epilogue */
        b.len = k;
        expect_failure(f, CT, &b, 5, UPLOAD_BAD_REQUEST);
    }
    free(b.p);
}

static void test_read_error(void **state)
{
    struct fixture *f = *state;
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, false);
    struct script s = {b.p, b.len, 0, 0, 1, (long)b.len - 20, 0};
    struct upload_result out;
    char err[256];
    assert_int_equal(upload_receive(&f->cfg, CT, -1, script_read, &s, &out, err, sizeof err),
                     UPLOAD_BAD_REQUEST);
    assert_int_equal(count_entries(f->dir), 0);
    free(b.p);
}

static void test_malformed_body(void **state)
{
    struct fixture *f = *state;
    struct buf b = {0};
    buf_str(&b, "--XbOuNdArY\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
                "\x89PNG\r\n\x1a\n0123456789\r\n--XbOuNdArYjunk\r\n--XbOuNdArY--");
    expect_failure(f, CT, &b, 9, UPLOAD_BAD_REQUEST);
    free(b.p);
}

static void test_not_an_image(void **state)
{
    struct fixture *f = *state;
    const char *fakes[] = {
        "<html><script>alert(1)</script></html>", /* named .png, sent as image/png */
        "\x89PNG\r\n\x1a", "\xff\xd8", "GIF89", "GIF88a-------", "RIFF\x10\0\0\0WAVEfmt ",
        "BM\x36\0\0\0\0\0\0\0\x36\0\0\0", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "",
    };
    for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
        size_t len = strlen(fakes[i]);
        if (i == 5) len = 16;
        if (i == 6) len = 14;
        struct buf b = make_body("XbOuNdArY", FILE_DISP, fakes[i], len, true);
        expect_failure(f, CT, &b, 4, UPLOAD_UNSUPPORTED_TYPE);
        free(b.p);
    }
}

static void test_too_large(void **state)
{
    struct fixture *f = *state;
    /* exactly the limit is accepted, one byte more is not */
    unsigned char *img = malloc(1001);
    memset(img, 'z', 1001);
    memcpy(img, png, 8);
    struct buf ok = make_body("XbOuNdArY", FILE_DISP, img, 1000, false);
    struct upload_result out;
    char err[256];
    assert_int_equal(run(f, CT, &ok, 0, 333, &out, err), UPLOAD_OK);
    assert_int_equal(out.size, 1000);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", f->dir, out.name);
    assert_int_equal(unlink(path), 0);
    struct buf big = make_body("XbOuNdArY", FILE_DISP, img, 1001, false);
    expect_failure(f, CT, &big, 333, UPLOAD_TOO_LARGE);
    free(ok.p);
    free(big.p);
    free(img);
}

/* A large body stops being read at the limit (at once when its length is
 * announced). */
static void test_too_large_stops_reading(void **state)
{
    struct fixture *f = *state;
    size_t n = 8 * 1024 * 1024;
    unsigned char *img = malloc(n);
    memset(img, 0, n);
    memcpy(img, jpeg, 4);
    struct buf b = make_body("XbOuNdArY", FILE_DISP, img, n, false);
    for (int announced = 0; announced < 2; announced++) {
        struct script s = {b.p, b.len, 0, 0, 65536, -1, 0};
        struct upload_result out;
        char err[256];
        assert_int_equal(upload_receive(&f->cfg, CT, announced ? (long long)b.len : -1, script_read, &s,
                                        &out, err, sizeof err), UPLOAD_TOO_LARGE);
        assert_true(s.pos <= (announced ? 0 : 2 * 65536));
        assert_int_equal(count_entries(f->dir), 0);
    }
    free(b.p);
    free(img);
}

static void test_unwritable_dir(void **state)
{
    struct fixture *f = *state;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such-dir", f->dir);
    struct upload_config cfg = {missing, "/files/", 1000};
    struct buf b = make_body("XbOuNdArY", FILE_DISP, png, sizeof png - 1, false);
    struct script s = {b.p, b.len, 0, 0, 100, -1, 0};
    struct upload_result out;
    char err[256];
    assert_int_equal(upload_receive(&cfg, CT, (long long)b.len, script_read, &s, &out, err, sizeof err),
                     UPLOAD_IO_ERROR);
    assert_int_equal(count_entries(f->dir), 0);
    free(b.p);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_png), T(test_jpeg), T(test_gif), T(test_webp),
        T(test_every_split), T(test_wx_upload_file_shape), T(test_hostile_filename),
        T(test_same_image_twice_is_one_file), T(test_bad_content_type), T(test_no_file_field),
        T(test_two_file_fields), T(test_truncated_everywhere), T(test_read_error),
        T(test_malformed_body), T(test_not_an_image), T(test_too_large),
        T(test_too_large_stops_reading), T(test_unwritable_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
