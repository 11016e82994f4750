/* fuzz_relay_msg.c -- libFuzzer target for the validation of a chat message
 * from a client (msg.h): msg_parse() on the input as the JSON text of a
 * message, msg_url_allowed() on the input as a URL, msg_prefixes_parse() on
 * it as RELAY_ALLOWED_URL_PREFIXES and msg_room_valid() on it as a room.
 *
 * Beyond "no crash": an accepted message has exactly one kind, a non-empty
 * body within the limit, a cid of 1..64 characters and, for an image, a URL
 * an independent check of the URL rules also accepts; a refused one has a
 * reason and no document. Nothing leaks on any path. */
#include "fuzz_common.h"
#include "msg.h"
#include "utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const prefixes[] = {"/files/", "https://cdn.example.com/img/", NULL};

/* The URL rules of msg.h, written out again from the contract. */
static bool url_rules_hold(const char *url, size_t len)
{
    if (len == 0 || memchr(url, '\0', len) || strstr(url, ".."))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c == 0x7f || c == '\\' || c == '%')
            return false;
    }
    for (size_t i = 0; prefixes[i]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (len < pl || memcmp(url, prefixes[i], pl) != 0)
            continue;
        bool https = strncmp(prefixes[i], "https://", 8) == 0;
        if (https || (!memchr(url, '?', len) && !memchr(url, '#', len)))
            return true;
    }
    return false;
}

static void check_cid(const char *cid)
{
    size_t n = strlen(cid);
    FUZZ_CHECK(n > 0 && utf8_length(cid, n) <= MSG_CID_MAX_CHARS);
}

static void check_message(const uint8_t *data, size_t size, size_t max_content)
{
    struct msg_rules rules = {max_content, prefixes};
    json_t *root = (json_t *)1;
    struct msg_input in;
    char *bad_cid = (char *)1, why[256] = "";
    int rc = msg_parse((const char *)data, size, &rules, &root, &in, &bad_cid, why, sizeof(why));
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && root == NULL && why[0] != '\0');
        if (bad_cid)
            check_cid(bad_cid);
        free(bad_cid);
        return;
    }
    FUZZ_CHECK(root != NULL && json_is_object(root) && bad_cid == NULL);
    json_t *text = json_object_get(root, "text"), *gallery = json_object_get(root, "gallery");
    FUZZ_CHECK(json_is_true(text) != json_is_true(gallery));
    FUZZ_CHECK(in.image == json_is_true(gallery));
    json_t *body = json_object_get(root, in.image ? "url" : "content");
    FUZZ_CHECK(json_is_string(body) && json_string_value(body) == in.body);
    FUZZ_CHECK(in.body_len == json_string_length(body) && in.body_len > 0 &&
               in.body_len <= max_content && strlen(in.body) == in.body_len);
    FUZZ_CHECK(utf8_valid((const uint8_t *)in.body, in.body_len));
    if (in.image)
        FUZZ_CHECK(url_rules_hold(in.body, in.body_len));
    if (in.cid)
        check_cid(in.cid);
    else
        FUZZ_CHECK(!json_is_string(json_object_get(root, "cid")));
    json_decref(root);
}

static void check_prefix_list(const char *list)
{
    char **p = msg_prefixes_parse(list);
    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; p[i]; i++) {
        size_t n = strlen(p[i]);
        FUZZ_CHECK(n > 0 && !strchr(p[i], ','));
        FUZZ_CHECK(p[i][0] != ' ' && p[i][0] != '\t' && p[i][n - 1] != ' ' &&
                   p[i][n - 1] != '\t');
        FUZZ_CHECK(strstr(list, p[i]) != NULL);
    }
    msg_prefixes_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_message(data, size, 4096);
    check_message(data, size, 16); /* a small limit reaches the length checks */
    char *s = fuzz_strndup(data, size);
    /* a URL as the relay sees one: a NUL-terminated string from jansson */
    FUZZ_CHECK(msg_url_allowed(s, size, prefixes) == url_rules_hold(s, size));
    check_prefix_list(s);
    size_t n = strlen(s); /* the room name is a C string from the query */
    if (msg_room_valid(s))
        FUZZ_CHECK(n >= 1 && n <= 64 &&
                   strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                       n);
    free(s);
    return 0;
}
