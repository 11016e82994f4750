/* test_frames.c -- the server frame encoder, read back by a wslay client
 * context fed by a scripted recv callback; the output queue's byte order;
 * and the JSON of chat frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "chatjson.h"
#include "frame.h"
#include "outq.h"

struct script {
    const uint8_t *data;
    size_t len, off;
    char *msgs[8];
    size_t lens[8];
    int n;
};

static ssize_t scripted_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                             void *user)
{
    (void)flags;
    struct script *s = user;
    if (s->off == s->len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    if (n > 7)
        n = 7; /* odd chunks */
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static ssize_t no_send(wslay_event_context_ptr ctx, const uint8_t *d, size_t l, int f, void *u)
{
    (void)ctx, (void)d, (void)f, (void)u;
    return (ssize_t)l;
}

static int genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx, (void)user;
    memset(buf, 0, len);
    return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    struct script *s = user;
    s->msgs[s->n] = malloc(arg->msg_length + 1);
    if (arg->msg_length)
        memcpy(s->msgs[s->n], arg->msg, arg->msg_length);
    s->lens[s->n++] = arg->msg_length;
}

static void test_header_sizes(void **state)
{
    (void)state;
    uint8_t h[FRAME_HEADER_MAX];
    assert_int_equal(frame_header(h, FRAME_OP_TEXT, 125), 2);
    assert_int_equal(h[0], 0x81);
    assert_int_equal(h[1], 125);
    assert_int_equal(frame_header(h, FRAME_OP_TEXT, 126), 4);
    assert_int_equal(h[1], 126);
    assert_int_equal(frame_header(h, FRAME_OP_TEXT, 65535), 4);
    assert_int_equal(frame_header(h, FRAME_OP_TEXT, 65536), 10);
    assert_int_equal(h[1], 127);
    assert_int_equal(h[7], 1);
}

static void test_wslay_reads_our_frames(void **state)
{
    (void)state;
    size_t sizes[] = {0, 5, 125, 126, 1000, 65535, 70000};
    size_t total = 0;
    struct frame *frames[7];
    for (int i = 0; i < 7; i++) {
        char *p = malloc(sizes[i] + 1);
        memset(p, 'a' + i, sizes[i]);
        frames[i] = frame_text(p, sizes[i]);
        free(p);
        total += frames[i]->len;
    }
    uint8_t *stream = malloc(total);
    size_t off = 0;
    for (int i = 0; i < 7; i++) {
        memcpy(stream + off, frames[i]->data, frames[i]->len);
        off += frames[i]->len;
        frame_unref(frames[i]);
    }
    struct script s = {.data = stream, .len = total};
    struct wslay_event_callbacks cb = {.recv_callback = scripted_recv,
                                       .send_callback = no_send,
                                       .genmask_callback = genmask,
                                       .on_msg_recv_callback = on_msg};
    wslay_event_context_ptr ctx;
    assert_int_equal(wslay_event_context_client_init(&ctx, &cb, &s), 0);
    while (s.off < s.len)
        assert_int_equal(wslay_event_recv(ctx), 0);
    assert_int_equal(s.n, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(s.lens[i], sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(s.msgs[i][j], 'a' + i);
        free(s.msgs[i]);
    }
    wslay_event_context_free(ctx);
    free(stream);
}

static void test_outq_order(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct outq q = {0};
    struct frame *f = frame_text("xy", 2);
    outq_append(&q, "AB", 2);
    outq_append_frame(&q, f);
    outq_append(&q, "C", 1);
    outq_append_frame(&q, f);
    frame_unref(f);
    assert_int_equal(q.bytes, 2 + 4 + 1 + 4);
    assert_int_equal(outq_write(&q, fds[1]), 11);
    assert_int_equal(q.bytes, 0);
    char buf[32];
    assert_int_equal(read(fds[0], buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "AB\x81\x02xyC\x81\x02xy", 11);
    /* trimming keeps a partly written head only */
    outq_append(&q, "0123", 4);
    f = frame_text("z", 1);
    outq_append_frame(&q, f);
    frame_unref(f);
    outq_trim(&q);
    assert_int_equal(q.bytes, 0);
    outq_clear(&q);
    close(fds[0]);
    close(fds[1]);
}

static void test_chat_json(void **state)
{
    (void)state;
    struct store_row row = {.seq = 7, .user_id = 42, .nickname = "n\"ick", .avatar_url = "/a",
                            .content = "hi", .cid = "c", .time_ms = 1764000000000};
    size_t len;
    char *j = chatjson_message(&row, "lobby", true, 3, true, &len);
    json_t *o = json_loads(j, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "user");
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(o, "number")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "nickName")), "n\"ick");
    assert_true(json_is_true(json_object_get(o, "text")));
    assert_true(json_is_true(json_object_get(o, "history")));
    assert_string_equal(json_string_value(json_object_get(o, "cid")), "c");
    json_decref(o);
    free(j);
    row.image = true;
    row.cid = NULL;
    j = chatjson_message(&row, "lobby", false, 3, false, &len);
    o = json_loads(j, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "remote");
    assert_true(json_is_true(json_object_get(o, "gallery")));
    assert_string_equal(json_string_value(json_object_get(o, "url")), "hi");
    assert_null(json_object_get(o, "cid"));
    assert_null(json_object_get(o, "history"));
    json_decref(o);
    free(j);
    /* the other audience's copy differs only in its type */
    char *remote = chatjson_message(&row, "lobby", false, 3, false, &len);
    size_t ulen, rlen;
    char *user = chatjson_retype(remote, len, true, &ulen);
    char *want = chatjson_message(&row, "lobby", true, 3, false, &rlen);
    assert_non_null(user);
    assert_int_equal(ulen, rlen);
    assert_string_equal(user, want);
    char *back = chatjson_retype(user, ulen, false, &rlen);
    assert_string_equal(back, remote);
    assert_null(chatjson_retype(remote, len, false, &rlen)); /* already remote */
    assert_null(chatjson_retype("{\"type\":\"sys", 14, true, &rlen));
    free(remote), free(user), free(want), free(back);
    j = chatjson_invalid_session("x", &len);
    assert_non_null(strstr(j, "\"F2C224D4-2BCE-4C64-AF9F-A6D872000D1A\":1"));
    free(j);
    j = chatjson_open(2, "r", 9, "e", 0, &len);
    assert_non_null(strstr(j, "\"recovered\":false"));
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_sizes),
        cmocka_unit_test(test_wslay_reads_our_frames),
        cmocka_unit_test(test_outq_order),
        cmocka_unit_test(test_chat_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
