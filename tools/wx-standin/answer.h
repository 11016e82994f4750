/* answer.h -- an HTTP answer as the handlers build it (status, type, body)
 * before the connection writes it with its head (http_resp.h). */
#ifndef STANDIN_ANSWER_H
#define STANDIN_ANSWER_H

#include "buf.h"

#include <jansson.h>

struct answer {
    int status;
    const char *type;  /* Content-Type (a static string), NULL for none */
    const char *extra; /* further header lines, each ending in CRLF (static), or NULL */
    struct buf body;   /* owned */
};

#define ANSWER_INIT                                                                                \
    {                                                                                              \
        0, NULL, NULL, BUF_INIT                                                                    \
    }

/* Answer `status` with a text body of the given type. */
void answer_text(struct answer *a, int status, const char *type, const char *text);

/* Answer `status` with the compact JSON text of v (members in insertion
 * order, '/' and non-ASCII unescaped) as the given type. Takes v's
 * reference. When v is NULL or cannot be written (never expected) the
 * answer is a logged 500. */
void answer_json(struct answer *a, int status, const char *type, json_t *v);

/* Release the body. */
void answer_free(struct answer *a);

#endif
