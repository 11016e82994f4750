/* codes.c -- the table of issued codes: hashing, expiry, the sweep. */
#include "codes.h"
#include "crypto.h"
#include "log.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct codes {
    struct code_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    struct code_entry *oldest, *newest; /* issue order */
};

/* FNV-1a; codes are random, so nothing cleverer is needed. */
static size_t code_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return (size_t)h;
}

struct codes *codes_create(void)
{
    struct codes *t = xcalloc(1, sizeof(*t));
    t->nbuckets = 1024;
    t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
    return t;
}

static void entry_free(struct code_entry *e)
{
    free(e->reply);
    free(e->session);
    free(e);
}

void codes_free(struct codes *t)
{
    if (!t)
        return;
    for (struct code_entry *e = t->oldest, *next; e; e = next) {
        next = e->fifo_next;
        entry_free(e);
    }
    free(t->buckets);
    free(t);
}

/* Double the bucket array once the table holds as many entries. */
static void codes_grow(struct codes *t)
{
    size_t n = t->nbuckets * 2;
    struct code_entry **b = xcalloc(n, sizeof(*b));
    for (struct code_entry *e = t->oldest; e; e = e->fifo_next) {
        size_t i = code_hash(e->code, CODE_LEN) & (n - 1);
        e->bucket_next = b[i];
        b[i] = e;
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

struct code_entry *codes_issue(struct codes *t, long long now_ms)
{
    if (t->count >= CODES_MAX) {
        log_warn("codes: %d codes held, none issued until some expire", CODES_MAX);
        return NULL;
    }
    struct code_entry *e = xcalloc(1, sizeof(*e));
    if (crypto_random_hex(e->code, CODE_LEN / 2) < 0) {
        log_error("codes: the random generator failed");
        free(e);
        return NULL;
    }
    e->issued_ms = now_ms;
    if (t->count >= t->nbuckets)
        codes_grow(t);
    size_t i = code_hash(e->code, CODE_LEN) & (t->nbuckets - 1);
    e->bucket_next = t->buckets[i];
    t->buckets[i] = e;
    if (t->newest)
        t->newest->fifo_next = e;
    else
        t->oldest = e;
    t->newest = e;
    t->count++;
    return e;
}

struct code_entry *codes_find(struct codes *t, const char *s, size_t len)
{
    if (len != CODE_LEN)
        return NULL;
    struct code_entry *e = t->buckets[code_hash(s, len) & (t->nbuckets - 1)];
    while (e && memcmp(e->code, s, CODE_LEN) != 0)
        e = e->bucket_next;
    return e;
}

/* Unlink e from its hash bucket. */
static void unlink_bucket(struct codes *t, struct code_entry *e)
{
    struct code_entry **pp = &t->buckets[code_hash(e->code, CODE_LEN) & (t->nbuckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->bucket_next;
    if (*pp)
        *pp = e->bucket_next;
}

size_t codes_sweep(struct codes *t, long long now_ms)
{
    size_t removed = 0;
    while (t->oldest && now_ms - t->oldest->issued_ms > CODES_TTL_MS) {
        struct code_entry *e = t->oldest;
        t->oldest = e->fifo_next;
        if (!t->oldest)
            t->newest = NULL;
        unlink_bucket(t, e);
        entry_free(e);
        t->count--;
        removed++;
    }
    return removed;
}

size_t codes_count(const struct codes *t)
{
    return t->count;
}
