/* msg.c -- chat message validation and URL rules. */
#include "msg.h"
#include "utf8.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static bool url_char_ok(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '\\' && c != '%';
}

bool msg_url_allowed(const char *url, size_t len, const char *const *prefixes)
{
    if (len == 0 || memchr(url, '\0', len))
        return false;
    /* bounded by len: url need not be NUL-terminated there */
    for (size_t i = 0; i < len; i++) {
        if (!url_char_ok((unsigned char)url[i]))
            return false;
        if (url[i] == '.' && i + 1 < len && url[i + 1] == '.')
            return false;
    }
    const char *https = "https://";
    size_t hl = strlen(https);
    for (size_t i = 0; prefixes && prefixes[i]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (pl == 0 || len < pl || strncmp(url, prefixes[i], pl) != 0)
            continue;
        bool rel_prefix = strncmp(prefixes[i], https, hl) != 0;
        if (rel_prefix && memchr(url, '?', len))
            continue;
        if (rel_prefix && memchr(url, '#', len))
            continue;
        return true;
    }
    return false;
}

bool msg_room_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

char **msg_prefixes_parse(const char *list)
{
    size_t cap = 1;
    for (const char *p = list ? list : ""; *p; p++)
        cap += *p == ',';
    char **out = xcalloc(cap + 1, sizeof(*out));
    size_t n = 0;
    const char *p = list ? list : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len)
            out[n++] = xstrndup(p, len);
        if (!comma)
            break;
        p = comma + 1;
    }
    return out;
}

void msg_prefixes_free(char **prefixes)
{
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        free(prefixes[i]);
    free(prefixes);
}

/* The cid member: 0 absent, 1 valid (*cid set), -1 malformed. */
static int msg_cid(json_t *root, const char **cid)
{
    json_t *v = json_object_get(root, "cid");
    *cid = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || memchr(s, '\0', n) || utf8_length(s, n) > MSG_CID_MAX_CHARS)
        return -1;
    *cid = s;
    return 1;
}

#define FAIL(...) (snprintf(why, whylen, __VA_ARGS__), -1)

/* Validate the body fields of a parsed object. */
static int msg_check(json_t *root, const struct msg_rules *rules, struct msg_input *in,
                     char *why, size_t whylen)
{
    json_t *text = json_object_get(root, "text"), *gallery = json_object_get(root, "gallery");
    bool is_text = json_is_true(text), is_image = json_is_true(gallery);
    if (is_text == is_image)
        return FAIL("a message needs exactly one of \"text\": true or \"gallery\": true");
    const char *key = is_text ? "content" : "url";
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v))
        return FAIL("\"%s\" must be a string", key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0)
        return FAIL("\"%s\" is empty", key);
    if (n > rules->max_content)
        return FAIL("\"%s\" is longer than %zu bytes", key, rules->max_content);
    if (memchr(s, '\0', n))
        return FAIL("\"%s\" contains a NUL character", key);
    if (is_image && !msg_url_allowed(s, n, rules->url_prefixes))
        return FAIL("\"url\" is not an allowed image address");
    in->image = is_image;
    in->body = s;
    in->body_len = n;
    return 0;
}

int msg_parse(const char *text, size_t len, const struct msg_rules *rules, json_t **root,
              struct msg_input *in, char **cid_out, char *why, size_t whylen)
{
    json_error_t jerr;
    *root = NULL;
    *cid_out = NULL;
    memset(in, 0, sizeof(*in));
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        /* jansson quotes the input near the error, cut at any byte: keep
         * only whole UTF-8, or the error frame could not carry it */
        snprintf(why, whylen, "not JSON: %s", jerr.text);
        why[utf8_valid_prefix((const uint8_t *)why, strlen(why))] = '\0';
        return -1;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return FAIL("a message must be a JSON object");
    }
    const char *cid;
    int c = msg_cid(doc, &cid);
    if (c < 0) {
        json_decref(doc);
        return FAIL("\"cid\" must be a string of 1 to %d characters", MSG_CID_MAX_CHARS);
    }
    if (msg_check(doc, rules, in, why, whylen) < 0) {
        *cid_out = cid ? xstrdup(cid) : NULL;
        json_decref(doc);
        return -1;
    }
    in->cid = cid;
    *root = doc;
    return 0;
}
