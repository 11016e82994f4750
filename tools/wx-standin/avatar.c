/* avatar.c -- the generated SVG avatars. */
#include "avatar.h"
#include "log.h"
#include "query.h"
#include "text.h"

#include <openssl/evp.h>
#include <string.h>

/* Append the first character of name, HTML-escaped (&, <, >, " and ' as
 * &#N;); '?' for an empty name. */
static void put_letter(struct buf *out, const char *name, size_t len)
{
    size_t n = text_first_char_len(name, len);
    if (n == 0) {
        buf_putc(out, '?');
        return;
    }
    if (n == 1 && strchr("&<>\"'", name[0]) && name[0])
        buf_printf(out, "&#%d;", name[0]);
    else
        buf_put(out, name, n);
}

void avatar_answer(const char *name, size_t len, struct answer *a)
{
    char decoded[AVATAR_NAME_MAX + 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    long n = query_decode(name, len, decoded, sizeof(decoded));
    if (n < 0 || !text_utf8_valid(decoded, (size_t)n)) {
        answer_text(a, 400, "application/json", "{\"errcode\":-1,\"errmsg\":\"bad avatar name\"}");
        return;
    }
    if (!EVP_Digest(decoded, (size_t)n, md, &md_len, EVP_md5(), NULL)) {
        log_error("avatar: md5 failed");
        answer_text(a, 500, "text/plain", "internal error");
        return;
    }
    /* md5[0] * 360 / 256, rounded half up */
    unsigned hue = (md[0] * 45u + 16) / 32;
    a->status = 200;
    a->type = "image/svg+xml";
    a->extra = "Cache-Control: public, max-age=86400\r\n";
    buf_clear(&a->body);
    buf_printf(&a->body,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"96\" height=\"96\" "
               "viewBox=\"0 0 96 96\"><rect width=\"96\" height=\"96\" rx=\"12\" "
               "fill=\"hsl(%u,55%%,55%%)\"/><text x=\"48\" y=\"62\" font-size=\"44\" "
               "text-anchor=\"middle\" fill=\"#fff\" font-family=\"sans-serif\">",
               hue);
    put_letter(&a->body, decoded, (size_t)n);
    buf_puts(&a->body, "</text></svg>");
}
