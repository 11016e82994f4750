/* codes.h -- the codes the stand-in issued, as WeChat keeps them: each one
 * knows its user's openid (and unionid), its session_key and whether it
 * has been exchanged, and is forgotten CODES_TTL_MS after issue (a sweep
 * removes old codes, exchanged or not). A hash table over a list in issue
 * order, so the sweep only looks at codes it removes. */
#ifndef STANDIN_CODES_H
#define STANDIN_CODES_H

#include <stdbool.h>
#include <stddef.h>

#define CODES_TTL_MS (5 * 60 * 1000)
/* Codes held at most (about 300 bytes each); issuing more fails. */
#define CODES_MAX 1000000
#define CODE_LEN 32    /* hex characters */
#define CODE_ID_LEN 28 /* 'o' or 'u' and 27 base64url characters */

struct code_entry {
    char code[CODE_LEN + 1];
    char openid[CODE_ID_LEN + 1];
    char unionid[CODE_ID_LEN + 1]; /* "" when the code has none */
    unsigned char session_key[16];
    long long issued_ms; /* monotonic clock */
    bool used;
    long delay_ms; /* answer the exchange after this long (0: at once) */
    char *reply;   /* "http500", "garbage", "errcode:N"..., or NULL; owned */
    char *session; /* the exchange's JSON answer, encoded at issue; owned */
    struct code_entry *bucket_next, *fifo_next;
};

struct codes;

/* An empty table. Aborts only when out of memory. */
struct codes *codes_create(void);

/* Free the table and every entry. */
void codes_free(struct codes *t);

/* A new entry with a fresh random code, issued at now_ms, everything else
 * zero; the caller fills it in. The table owns it. Returns NULL (logged)
 * when CODES_MAX codes are held or the random generator fails. */
struct code_entry *codes_issue(struct codes *t, long long now_ms);

/* The entry of code s[0..len), expired or not, or NULL. Borrowed. */
struct code_entry *codes_find(struct codes *t, const char *s, size_t len);

/* Forget every code issued more than CODES_TTL_MS before now_ms. Returns
 * how many were removed. */
size_t codes_sweep(struct codes *t, long long now_ms);

/* How many codes are held. */
size_t codes_count(const struct codes *t);

#endif
