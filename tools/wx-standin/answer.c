/* answer.c -- building answers: text and JSON bodies. */
#include "answer.h"
#include "jscompat.h"
#include "log.h"

#include <stdlib.h>

void answer_text(struct answer *a, int status, const char *type, const char *text)
{
    a->status = status;
    a->type = type;
    buf_clear(&a->body);
    buf_puts(&a->body, text);
}

void answer_json(struct answer *a, int status, const char *type, json_t *v, int precision)
{
    size_t len = 0;
    char *text = v ? js_json_text(v, precision, &len) : NULL;
    json_decref(v);
    if (!text) {
        log_error("answer: a JSON answer (status %d) could not be built", status);
        answer_text(a, 500, "application/json", "{\"error\":\"internal error\"}");
        return;
    }
    a->status = status;
    a->type = type;
    buf_clear(&a->body);
    buf_put(&a->body, text, len);
    free(text);
}

void answer_free(struct answer *a)
{
    buf_free(&a->body);
}
