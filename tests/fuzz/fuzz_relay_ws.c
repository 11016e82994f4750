/* fuzz_relay_ws.c -- libFuzzer target for the relay's WebSocket side: the
 * input is what a client sends after the 101 answer.
 *
 * The connection code (conn.c, conn_ws.c) cannot be driven without sockets: its wslay callbacks are static,
 * a connection needs the event loop and a file descriptor, and it reaches
 * CONN_OPEN only through a PostgreSQL session lookup and room join. So this
 * target rebuilds conn_ws.c's wslay glue around the same pieces, the way wslay's own
 * tests do: a wslay server context reads the input through a scripted recv
 * callback (returning "would block" at points derived from the input, as a
 * socket does between reads), wslay's output and our frames go into one
 * byte stream like the connection's output queue, and each complete
 * message gets what inbound.c does to it (UTF-8 check, msg_parse(), an
 * error frame or the chat frame from chatjson.c, built with frame.c).
 *
 * Invariant: everything the server writes is a valid frame sequence for a
 * client: a wslay client context reads the whole stream without error and
 * sees exactly the data frames we queued, in order, ending with at most one
 * close; each is JSON with the expected fields. */
#include "chatjson.h"
#include "frame.h"
#include "fuzz_common.h"
#include "msg.h"
#include "utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 8192 /* the relay's RELAY_MAX_MESSAGE, kept small */
#define MAX_CONTENT 4096
#define MAX_SENT 64

static const char *const prefixes[] = {"/files/", "https://cdn.example.com/", NULL};

/* An output stream (the connection's queue). */
struct stream {
    uint8_t *p;
    size_t len, cap;
};

static void stream_put(struct stream *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->p = realloc(s->p, s->cap);
        if (!s->p)
            abort();
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

/* The server side: input script, output stream, what it queued. */
struct server {
    const uint8_t *in;
    size_t in_len, in_off, read_k, budget;
    struct stream out;
    bool closing;
    int sent;             /* data frames queued by us */
    char *texts[MAX_SENT]; /* their JSON texts */
};

static ssize_t server_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                           void *user)
{
    (void)flags;
    struct server *s = user;
    if (s->in_off == s->in_len || s->budget == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = s->in_len - s->in_off;
    if (n > len)
        n = len;
    if (n > s->budget)
        n = s->budget;
    memcpy(buf, s->in + s->in_off, n);
    s->in_off += n;
    s->budget -= n;
    return (ssize_t)n;
}

static ssize_t server_send(wslay_event_context_ptr ctx, const uint8_t *d, size_t len, int flags,
                           void *user)
{
    (void)ctx, (void)flags;
    stream_put(&((struct server *)user)->out, d, len);
    return (ssize_t)len;
}

/* conn_send_json(): a text frame straight into the stream. */
static void server_send_json(struct server *s, char *json, size_t len)
{
    FUZZ_CHECK(json != NULL && strlen(json) == len);
    if (s->closing || s->sent == MAX_SENT) {
        free(json);
        return;
    }
    struct frame *f = frame_text(json, len);
    stream_put(&s->out, f->data, f->len);
    frame_unref(f);
    s->texts[s->sent++] = json;
}

/* inbound_message() for a text message of an open connection. */
static void server_text(struct server *s, wslay_event_context_ptr ctx, const char *d, size_t n)
{
    size_t len;
    if (!utf8_valid((const uint8_t *)d, n)) {
        wslay_event_queue_close(ctx, 1007, (const uint8_t *)"invalid UTF-8", 13);
        wslay_event_shutdown_read(ctx);
        s->closing = true;
        return;
    }
    struct msg_rules rules = {MAX_CONTENT, prefixes};
    json_t *root;
    struct msg_input in;
    char *bad_cid, why[256];
    if (msg_parse(d, n, &rules, &root, &in, &bad_cid, why, sizeof(why)) < 0) {
        server_send_json(s, chatjson_error("ERR_BAD_MESSAGE", why, bad_cid, &len), len);
        free(bad_cid);
        return;
    }
    struct store_row row = {.seq = 1, .user_id = 42, .nickname = "nick", .avatar_url = "",
                            .image = in.image, .content = in.body, .cid = in.cid,
                            .time_ms = 1764000000000};
    server_send_json(s, chatjson_message(&row, "lobby", true, 2, false, &len), len);
    json_decref(root);
}

static void server_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
    struct server *s = user;
    FUZZ_CHECK(arg->msg_length <= MAX_MESSAGE);
    if (wslay_is_ctrl_frame(arg->opcode) || s->closing)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        server_text(s, ctx, (const char *)arg->msg, arg->msg_length);
    } else {
        FUZZ_CHECK(arg->opcode == WSLAY_BINARY_FRAME);
        wslay_event_queue_close(ctx, 1002, (const uint8_t *)"binary", 6);
        wslay_event_shutdown_read(ctx);
        s->closing = true;
    }
}

/* conn_ws_read() until the input is used up or reading stops. */
static void server_run(struct server *s)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = server_recv, .send_callback = server_send, .on_msg_recv_callback = server_msg};
    wslay_event_context_ptr ctx;
    FUZZ_CHECK(wslay_event_context_server_init(&ctx, &cbs, s) == 0);
    wslay_event_config_set_max_recv_msg_length(ctx, MAX_MESSAGE);
    while (s->in_off < s->in_len && wslay_event_get_read_enabled(ctx)) {
        s->budget = fuzz_chunk(s->in, s->in_len, s->read_k++, 600);
        if (wslay_event_recv(ctx) != 0) { /* conn_close_raw(): close frame of our own */
            static const uint8_t close_1002[] = {0x88, 2, 0x03, 0xEA};
            stream_put(&s->out, close_1002, sizeof(close_1002));
            s->closing = true;
            break;
        }
        if (wslay_event_want_write(ctx)) /* conn_ws_pump() */
            wslay_event_send(ctx);
        if (wslay_event_get_close_received(ctx) || !wslay_event_get_read_enabled(ctx))
            s->closing = true;
    }
    wslay_event_context_free(ctx);
}

/* --- the client reading the server's output ------------------------------------------- */

struct client {
    const struct stream *in;
    size_t off;
    int got, closes;
    bool after_close; /* a frame arrived after the close */
    const struct server *server;
};

static ssize_t client_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                           void *user)
{
    (void)flags;
    struct client *c = user;
    if (c->off == c->in->len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = c->in->len - c->off < len ? c->in->len - c->off : len;
    if (n > 13)
        n = 13; /* odd pieces */
    memcpy(buf, c->in->p + c->off, n);
    c->off += n;
    return (ssize_t)n;
}

static ssize_t client_send(wslay_event_context_ptr ctx, const uint8_t *d, size_t l, int f, void *u)
{
    (void)ctx, (void)d, (void)f, (void)u;
    return (ssize_t)l;
}

static int client_mask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx, (void)user;
    memset(buf, 0x5a, len);
    return 0;
}

/* A data frame must be one of ours, in order; JSON with a type. */
static void client_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user)
{
    (void)ctx;
    struct client *c = user;
    if (c->closes)
        c->after_close = true;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->closes++;
        return;
    }
    if (wslay_is_ctrl_frame(arg->opcode))
        return;
    FUZZ_CHECK(arg->opcode == WSLAY_TEXT_FRAME && c->got < c->server->sent);
    const char *want = c->server->texts[c->got++];
    FUZZ_CHECK(arg->msg_length == strlen(want) && memcmp(arg->msg, want, arg->msg_length) == 0);
    json_t *o = json_loadb((const char *)arg->msg, arg->msg_length, 0, NULL);
    FUZZ_CHECK(json_is_object(o));
    const char *type = json_string_value(json_object_get(o, "type"));
    FUZZ_CHECK(type != NULL);
    if (strcmp(type, "error") == 0) /* an error frame says why */
        FUZZ_CHECK(json_is_string(json_object_get(o, "message")));
    else
        FUZZ_CHECK(json_is_string(json_object_get(o, "content")) ||
                   json_is_string(json_object_get(o, "url")));
    json_decref(o);
}

static void client_check(const struct server *s)
{
    static const struct wslay_event_callbacks cbs = {.recv_callback = client_recv,
                                                     .send_callback = client_send,
                                                     .genmask_callback = client_mask,
                                                     .on_msg_recv_callback = client_msg};
    struct client c = {.in = &s->out, .server = s};
    wslay_event_context_ptr ctx;
    FUZZ_CHECK(wslay_event_context_client_init(&ctx, &cbs, &c) == 0);
    while (c.off < s->out.len && wslay_event_get_read_enabled(ctx))
        FUZZ_CHECK(wslay_event_recv(ctx) == 0);
    FUZZ_CHECK(c.off == s->out.len); /* nothing written after a close */
    FUZZ_CHECK(c.got == s->sent && c.closes <= 1 && !c.after_close);
    wslay_event_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct server s = {.in = data, .in_len = size};
    server_run(&s);
    client_check(&s);
    for (int i = 0; i < s.sent; i++)
        free(s.texts[i]);
    free(s.out.p);
    return 0;
}
