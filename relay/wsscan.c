/* wsscan.c -- frame boundary tracking of a client stream. */
#include "wsscan.h"

/* Header length from b1: 2, + 2 or 8 for the extended length, + 4 mask. */
static uint8_t header_len(uint8_t b1)
{
    uint8_t len7 = b1 & 0x7F;
    return (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0));
}

/* The header is complete: set the payload length and the message state. */
static void header_done(struct wsscan *s)
{
    uint8_t b0 = s->hdr[0], len7 = s->hdr[1] & 0x7F;
    if (len7 < 126) {
        s->left = len7;
    } else {
        int k = len7 == 126 ? 2 : 8;
        s->left = 0;
        for (int i = 0; i < k; i++)
            s->left = s->left << 8 | s->ext[i];
    }
    uint8_t opcode = b0 & 0x0F;
    if (!(opcode & 0x08)) /* data or continuation: FIN ends the message */
        s->in_msg = !(b0 & 0x80);
    s->hlen = 0;
}

void wsscan_feed(struct wsscan *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (s->left > 0) {
            size_t k = s->left < n ? (size_t)s->left : n;
            s->left -= k, p += k, n -= k;
            continue;
        }
        uint8_t b = *p++;
        n--;
        if (s->hlen < 2) {
            s->hdr[s->hlen] = b;
        } else if (s->hlen - 2 < 8 && (s->hdr[1] & 0x7F) >= 126) {
            s->ext[s->hlen - 2] = b; /* mask bytes past the length are skipped */
        }
        s->hlen++;
        if (s->hlen == 2)
            s->need = header_len(s->hdr[1]);
        if (s->hlen >= 2 && s->hlen == s->need)
            header_done(s);
    }
}

bool wsscan_idle(const struct wsscan *s)
{
    return s->left == 0 && s->hlen == 0 && !s->in_msg;
}
