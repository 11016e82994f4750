/* frame.c -- server frame header encoder and shared frames. */
#include "frame.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

size_t frame_header(uint8_t *out, uint8_t opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

struct frame *frame_text(const char *payload, size_t len)
{
    uint8_t head[FRAME_HEADER_MAX];
    size_t hlen = frame_header(head, FRAME_OP_TEXT, len);
    struct frame *f = xmalloc(sizeof(*f) + hlen + len);
    f->refs = 1;
    f->len = hlen + len;
    memcpy(f->data, head, hlen);
    memcpy(f->data + hlen, payload, len);
    return f;
}

const char *frame_payload(const struct frame *f, size_t *len)
{
    uint8_t l7 = f->data[1] & 0x7F;
    size_t hlen = l7 < 126 ? 2 : l7 == 126 ? 4 : 10;
    *len = f->len - hlen;
    return (const char *)f->data + hlen;
}

struct frame *frame_raw(const void *data, size_t len)
{
    struct frame *f = xmalloc(sizeof(*f) + len);
    f->refs = 1;
    f->len = len;
    memcpy(f->data, data, len);
    return f;
}

struct frame *frame_ref(struct frame *f)
{
    f->refs++;
    return f;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}
