/* answer.c -- building answers: text and JSON bodies. */
#include "answer.h"
#include "log.h"

#include <stdlib.h>

void answer_text(struct answer *a, int status, const char *type, const char *text)
{
    a->status = status;
    a->type = type;
    buf_clear(&a->body);
    buf_puts(&a->body, text);
}

void answer_json(struct answer *a, int status, const char *type, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!text) {
        log_error("answer: a JSON answer (status %d) could not be built", status);
        answer_text(a, 500, "application/json", "{\"error\":\"internal error\"}");
        return;
    }
    a->status = status;
    a->type = type;
    buf_clear(&a->body);
    buf_puts(&a->body, text);
    free(text);
}

void answer_free(struct answer *a)
{
    buf_free(&a->body);
}
