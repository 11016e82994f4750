/* chatscan.c -- bounded scan of benchmark chat frames, jansson for the rest. */
#include "chatscan.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MAGIC_KEY "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A"
#define CONTENT_KEY "\"content\":\"t="

/* Parse decimal digits at *p (before end) into *out; advances *p. Returns
 * 0, or -1 when there is no digit or more than 19. */
static int scan_number(const char **p, const char *end, long long *out)
{
    const char *s = *p;
    long long v = 0;
    int n = 0;
    while (s < end && *s >= '0' && *s <= '9' && n < 19) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n == 0 || (s < end && *s >= '0' && *s <= '9'))
        return -1;
    *p = s;
    *out = v;
    return 0;
}

/* Expect the literal `lit` at *p; advances past it. */
static int scan_literal(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

/* The number after key `key` (e.g. "\"id\":"), or -1 on failure. */
static int scan_key_number(const char *buf, size_t len, const char *key, long long *out)
{
    const char *k = memmem(buf, len, key, strlen(key));
    if (!k)
        return -1;
    const char *p = k + strlen(key), *end = buf + len;
    while (p < end && *p == ' ')
        p++;
    return scan_number(&p, end, out);
}

/* Chat frame fast path: content "t=N s=N k=N" followed by a quote. */
static void scan_chat(const char *buf, size_t len, const char *content, struct chat_frame *f)
{
    const char *p = content + strlen(CONTENT_KEY), *end = buf + len;
    f->kind = FRAME_BAD;
    if (scan_number(&p, end, &f->t_ns) || scan_literal(&p, end, " s=") ||
        scan_number(&p, end, &f->sender) || scan_literal(&p, end, " k=") ||
        scan_number(&p, end, &f->k) || scan_literal(&p, end, "\""))
        return;
    if (scan_key_number(buf, len, "\"id\":", &f->id))
        return;
    f->own = memmem(buf, len, "\"type\":\"user\"", 13) != NULL;
    f->kind = memmem(buf, len, "\"history\":true", 14) ? FRAME_HISTORY : FRAME_CHAT;
}

/* Slow path: parse with jansson and look at the shape. */
static void scan_json(const char *buf, size_t len, struct chat_frame *f)
{
    json_error_t err;
    json_t *root = json_loadb(buf, len, 0, &err);
    f->kind = FRAME_BAD;
    if (!root || !json_is_object(root))
        goto out;
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *error = json_string_value(json_object_get(root, "error"));
    if (json_object_get(root, MAGIC_KEY) && error && strcmp(error, "ERR_INVALID_SESSION") == 0) {
        f->kind = FRAME_INVALID_SESSION;
    } else if (type && strcmp(type, "error") == 0) {
        f->kind = FRAME_ERROR;
        snprintf(f->error, sizeof f->error, "%s", error ? error : "?");
    } else if (type && strcmp(type, "system") == 0) {
        json_t *seq = json_object_get(root, "seq");
        f->kind = json_object_get(root, "event") ? FRAME_PRESENCE : FRAME_SYSTEM;
        f->seq = json_is_integer(seq) ? (long long)json_integer_value(seq) : -1;
    } else if (json_object_get(root, "history") == json_true()) {
        json_t *id = json_object_get(root, "id");
        f->kind = FRAME_HISTORY;
        f->id = json_is_integer(id) ? (long long)json_integer_value(id) : -1;
    } else {
        f->kind = FRAME_OTHER;
    }
out:
    json_decref(root);
}

void chat_frame_scan(const char *buf, size_t len, struct chat_frame *f)
{
    memset(f, 0, sizeof *f);
    f->seq = -1;
    const char *content = memmem(buf, len, CONTENT_KEY, strlen(CONTENT_KEY));
    if (content) {
        scan_chat(buf, len, content, f);
        return;
    }
    /* join/leave events: one per join per member, so also kept off jansson */
    if (memmem(buf, len, "\"event\":\"", 9) && memmem(buf, len, "\"type\":\"system\"", 15)) {
        f->kind = FRAME_PRESENCE;
        return;
    }
    scan_json(buf, len, f);
}

size_t chat_message_format(char *out, size_t cap, long long t_ns, long long sender, long long k)
{
    int n = snprintf(out, cap, "{\"text\":true,\"content\":\"t=%lld s=%lld k=%lld\"}", t_ns, sender,
                     k);
    return (n < 0 || (size_t)n >= cap) ? 0 : (size_t)n;
}
