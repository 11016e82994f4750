/* msg.h -- validation of a chat message from a client:
 *   {"text": true, "content": "..."} or {"gallery": true, "url": "..."},
 * optionally with "cid" (1..64 characters). Pure; jansson parses. */
#ifndef RELAY_MSG_H
#define RELAY_MSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MSG_CID_MAX_CHARS 64

struct msg_rules {
    size_t max_content;             /* bytes of content, and of url */
    const char *const *url_prefixes; /* allowed url prefixes, NULL-terminated */
};

struct msg_input {
    bool image;           /* gallery (url) rather than text */
    const char *body;     /* content or url, borrowed from the parsed JSON */
    size_t body_len;
    const char *cid;      /* NULL when absent; borrowed */
};

/* Parse and validate `len` bytes of UTF-8 JSON. On success returns 0, sets
 * *root (the caller json_decref()s it) and fills *in with fields borrowed
 * from it. On failure returns -1 with a human reason in why, *root NULL and
 * *cid_out a malloc'ed copy of a well-formed cid (or NULL) for the error
 * frame (the caller frees it). */
int msg_parse(const char *text, size_t len, const struct msg_rules *rules, json_t **root,
              struct msg_input *in, char **cid_out, char *why, size_t whylen);

/* true when url may be sent as an image: starts with one of prefixes (which
 * may be relative, "/files/", or absolute, "https://cdn.example/"); no "..",
 * backslash, '%', whitespace or control character; no '?' or '#' after a
 * relative (not https://) prefix. */
bool msg_url_allowed(const char *url, size_t len, const char *const *prefixes);

/* Split a comma-separated prefix list into a NULL-terminated array of
 * malloc'ed strings (empty items dropped); free with msg_prefixes_free(). */
char **msg_prefixes_parse(const char *list);

/* Free what msg_prefixes_parse() returned (NULL is ignored). */
void msg_prefixes_free(char **prefixes);

/* true when name is a valid room name: [A-Za-z0-9_-]{1,64}. */
bool msg_room_valid(const char *name);

#endif
