/* fuzz_standin_request.c -- libFuzzer target for the WeChat stand-in's
 * request path (tools/wx-standin: http_req.h, url.h, text.h, jscompat.h,
 * routes.h and the handlers behind it).
 *
 * The input is what a client sends. The end of the head is searched in one
 * go and again in chunks (the same answer both ways); a parsed head is
 * routed through the real handlers (issuing codes, exchanging them, avatars)
 * with a code table of its own, and the answers checked: a known status, a
 * body of valid UTF-8 that parses as JSON when served as JSON, and the
 * decoded query parameters and headers valid UTF-8. The code table is
 * emptied every 4096 inputs so memory stays bounded. */
#include "codes.h"
#include "exchange.h"
#include "fuzz_common.h"
#include "http_req.h"
#include "jscompat.h"
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

/* What the handlers read, decoded: always valid UTF-8. */
static void check_decoding(const struct http_req *req)
{
    static const char *const names[] = {"user", "nickName", "gender", "delayMs", "js_code", "reply"};
    struct buf path = BUF_INIT, v = BUF_INIT;
    const char *query;
    size_t qlen;
    url_split_target(req->target, req->target_len, &path, &query, &qlen);
    FUZZ_CHECK(path.len > 0 && buf_str(&path)[0] == '/');
    for (size_t i = 0; i < path.len; i++)
        FUZZ_CHECK(path.p[i] > 0x20 && path.p[i] < 0x7f);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (url_param_get(query, qlen, names[i], &v)) {
            check_utf8(&v);
            (void)js_number(buf_str(&v), v.len);
        }
    }
    if (http_req_header(req, "x-forwarded-host", true, &v))
        check_utf8(&v);
    buf_clear(&v);
    if (text_uri_decode_component(path.p, path.len, &v) == 0)
        check_utf8(&v);
    buf_free(&path);
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
