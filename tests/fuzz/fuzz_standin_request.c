/* fuzz_standin_request.c -- libFuzzer target for the WeChat stand-in's
 * request path (tools/wx-standin: http_req.h, url.h, text.h, routes.h and
 * the handlers behind it).
 *
 * The input is what a client sends. The end of the head is searched in one
 * go and again in chunks (the same answer both ways); a parsed head is
 * routed through the real handlers (issuing codes, exchanging them, avatars)
 * with a code table of its own, and the answers checked: a known status, a
 * body of valid UTF-8 that parses as JSON when served as JSON, the path
 * and query a split of the target, decoded parameters bounded and NUL-free,
 * and decoded headers valid UTF-8. The code table is
 * emptied every 4096 inputs so memory stays bounded. */
#include "codes.h"
#include "exchange.h"
#include "fuzz_common.h"
#include "http_req.h"
#include "query.h"
#include "routes.h"
#include "settings.h"
#include "standin.h"
#include "text.h"
#include "url.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct settings cfg = {"127.0.0.1", "9911", "wx0000standin0000", "standin-secret"};
static struct standin app = {&cfg, NULL};
static unsigned long runs;

/* The head's end found by feeding chunks, as conn.c reads. */
static long head_end_chunked(const uint8_t *data, size_t size)
{
    size_t len = 0, scanned = 0;
    long end = 0;
    for (size_t k = 0; len < size && end == 0; k++) {
        size_t n = fuzz_chunk(data, size, k, 64);
        len += n > size - len ? size - len : n;
        end = http_req_head_end((const char *)data, len, &scanned);
    }
    return end;
}

static void check_utf8(const struct buf *b)
{
    size_t chars;
    FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)buf_str(b), b->len, &chars));
}

/* What the handlers read: the path and query are the target's first bytes
 * around '?'; decoded parameters fit and hold no NUL; headers are UTF-8. */
static void check_decoding(const struct http_req *req)
{
    static const char *const names[] = {"user", "nickName", "gender", "delayMs", "js_code", "reply"};
    struct buf path = BUF_INIT, query = BUF_INIT, v = BUF_INIT;
    char out[65];
    long n;
    url_split_target(req->target, req->target_len, &path, &query);
    FUZZ_CHECK(path.len <= req->target_len && memcmp(buf_str(&path), req->target, path.len) == 0);
    FUZZ_CHECK(!memchr(buf_str(&path), '?', path.len) && !memchr(buf_str(&path), '#', path.len));
    FUZZ_CHECK(!memchr(buf_str(&query), '#', query.len));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if ((n = query_get(buf_str(&query), names[i], out, sizeof(out))) >= 0) {
            FUZZ_CHECK((size_t)n < sizeof(out) && strlen(out) == (size_t)n);
            long x;
            (void)text_to_long(out, &x);
        }
    }
    if (http_req_header(req, "x-forwarded-host", true, &v))
        check_utf8(&v);
    buf_free(&path);
    buf_free(&query);
    buf_free(&v);
}

/* An answer as conn.c would send it. */
static void check_answer(const struct answer *a)
{
    FUZZ_CHECK(a->status == 200 || a->status == 400 || a->status == 404 || a->status == 500 ||
               a->status == 503);
    check_utf8(&a->body);
    if (a->type && (strcmp(a->type, "application/json") == 0 ||
                    (strcmp(a->type, "text/plain") == 0 && a->status == 200))) {
        json_t *v = json_loadb(buf_str(&a->body), a->body.len, 0, NULL);
        FUZZ_CHECK(v != NULL);
        json_decref(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app.codes)
        app.codes = codes_create();
    if (++runs % 4096 == 0)
        codes_sweep(app.codes, (long long)1 << 62);
    size_t scanned = 0;
    long end = http_req_head_end((const char *)data, size, &scanned);
    FUZZ_CHECK(end == head_end_chunked(data, size));
    if (end <= 0)
        return 0;
    char *head = malloc((size_t)end); /* exactly the head, for ASan */
    memcpy(head, data, (size_t)end);
    struct http_req req;
    if (http_req_parse(head, (size_t)end, &req) == HTTP_REQ_OK) {
        check_decoding(&req);
        struct answer a = ANSWER_INIT;
        struct exchange_later *later = NULL;
        long delay = routes_handle(&app, &req, 1000, &a, &later);
        if (delay > 0) {
            FUZZ_CHECK(later != NULL && delay <= 120000);
            exchange_finish(&app, later, 1000 + delay, &a);
            exchange_later_free(later);
        }
        check_answer(&a);
        answer_free(&a);
    }
    free(head);
    return 0;
}
