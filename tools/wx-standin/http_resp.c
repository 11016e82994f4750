/* http_resp.c -- response heads, with a Date header cached per second. */
#include "http_resp.h"

#include <time.h>

/* HTTP_KEEP_ALIVE_S as text. */
#define STR2(x) #x
#define STR(x) STR2(x)
#define KEEP_ALIVE_TEXT STR(HTTP_KEEP_ALIVE_S)

static const char *reason(int status)
{
    static const struct {
        int status;
        const char *text;
    } reasons[] = {
        {100, "Continue"},
        {200, "OK"},
        {400, "Bad Request"},
        {404, "Not Found"},
        {413, "Payload Too Large"},
        {417, "Expectation Failed"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].text;
    return "Unknown";
}

/* The Date value ("Tue, 03 Mar 2026 10:00:00 GMT"), formatted once per second. */
static const char *date_value(void)
{
    static char text[64];
    static time_t cached = -1;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return text;
}

/* Append the decimal digits of n. */
static void put_number(struct buf *out, size_t n)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    buf_put(out, digits + i, sizeof(digits) - i);
}

void http_resp_write(struct buf *out, const struct answer *a, bool keep_alive, bool head_only)
{
    buf_puts(out, "HTTP/1.1 ");
    put_number(out, (size_t)a->status);
    buf_putc(out, ' ');
    buf_puts(out, reason(a->status));
    buf_puts(out, "\r\n");
    if (a->extra)
        buf_puts(out, a->extra);
    if (a->type) {
        buf_puts(out, "Content-Type: ");
        buf_puts(out, a->type);
        buf_puts(out, "\r\n");
    }
    buf_puts(out, "Content-Length: ");
    put_number(out, a->body.len);
    buf_puts(out, "\r\nDate: ");
    buf_puts(out, date_value());
    buf_puts(out, keep_alive ? "\r\nConnection: keep-alive\r\nKeep-Alive: timeout=" KEEP_ALIVE_TEXT
                               "\r\n\r\n"
                             : "\r\nConnection: close\r\n\r\n");
    if (!head_only)
        buf_put(out, a->body.p, a->body.len);
}

void http_resp_continue(struct buf *out)
{
    buf_puts(out, "HTTP/1.1 100 Continue\r\n\r\n");
}

void http_resp_error(struct buf *out, int status)
{
    buf_printf(out, "HTTP/1.1 %d %s\r\nConnection: close\r\n\r\n", status, reason(status));
}
