/* fcgi_proto.c -- FastCGI records and name-value pairs (see fcgi_proto.h). */
#include "fcgi_proto.h"

#include <string.h>

void fcgi_header_decode(const unsigned char *p, struct fcgi_header *h)
{
    h->version = p[0];
    h->type = p[1];
    h->request_id = (unsigned)p[2] << 8 | p[3];
    h->content_length = (unsigned)p[4] << 8 | p[5];
    h->padding_length = p[6];
}

void fcgi_header_encode(unsigned char *p, unsigned type, unsigned request_id,
                        size_t content_length, unsigned padding_length)
{
    p[0] = FCGI_VERSION;
    p[1] = (unsigned char)type;
    p[2] = (unsigned char)(request_id >> 8);
    p[3] = (unsigned char)request_id;
    p[4] = (unsigned char)(content_length >> 8);
    p[5] = (unsigned char)content_length;
    p[6] = (unsigned char)padding_length;
    p[7] = 0;
}

int fcgi_begin_decode(const unsigned char *body, size_t len, unsigned *role, unsigned *flags)
{
    if (len != 8)
        return -1;
    *role = (unsigned)body[0] << 8 | body[1];
    *flags = body[2];
    return 0;
}

void fcgi_end_encode(unsigned char *p, unsigned request_id, uint32_t app_status,
                     enum fcgi_protocol_status status)
{
    fcgi_header_encode(p, FCGI_END_REQUEST, request_id, 8, 0);
    unsigned char *b = p + FCGI_HEADER_LEN;
    b[0] = (unsigned char)(app_status >> 24);
    b[1] = (unsigned char)(app_status >> 16);
    b[2] = (unsigned char)(app_status >> 8);
    b[3] = (unsigned char)app_status;
    b[4] = (unsigned char)status;
    memset(b + 5, 0, 3);
}

void fcgi_unknown_encode(unsigned char *p, unsigned type)
{
    fcgi_header_encode(p, FCGI_UNKNOWN_TYPE, 0, 8, 0);
    memset(p + FCGI_HEADER_LEN, 0, 8);
    p[FCGI_HEADER_LEN] = (unsigned char)type;
}

/* A pair's length: one byte below 128, else four with the top bit set. */
static int length_next(const unsigned char *buf, size_t len, size_t *pos, size_t *out)
{
    if (*pos >= len)
        return -1;
    if (buf[*pos] < 0x80) {
        *out = buf[(*pos)++];
        return 0;
    }
    if (len - *pos < 4)
        return -1;
    const unsigned char *p = buf + *pos;
    *out = ((size_t)(p[0] & 0x7f) << 24) | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    *pos += 4;
    return 0;
}

int fcgi_pair_next(const unsigned char *buf, size_t len, size_t *pos, struct fcgi_pair *pair)
{
    if (*pos >= len)
        return 0;
    size_t at = *pos, nlen, vlen;
    if (length_next(buf, len, &at, &nlen) < 0 || length_next(buf, len, &at, &vlen) < 0)
        return -1;
    if (nlen > len - at || vlen > len - at - nlen)
        return -1;
    pair->name = buf + at;
    pair->name_len = nlen;
    pair->value = buf + at + nlen;
    pair->value_len = vlen;
    *pos = at + nlen + vlen;
    return 1;
}

static size_t length_size(size_t n)
{
    return n < 0x80 ? 1 : 4;
}

static unsigned char *length_put(unsigned char *p, size_t n)
{
    if (n < 0x80) {
        *p++ = (unsigned char)n;
        return p;
    }
    *p++ = (unsigned char)(0x80 | (n >> 24));
    *p++ = (unsigned char)(n >> 16);
    *p++ = (unsigned char)(n >> 8);
    *p++ = (unsigned char)n;
    return p;
}

int fcgi_pair_encode(unsigned char *out, size_t cap, size_t *used, const char *name,
                     const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    size_t need = length_size(nlen) + length_size(vlen) + nlen + vlen;
    if (nlen > 0x7fffffff || vlen > 0x7fffffff || need > cap - *used)
        return -1;
    unsigned char *p = length_put(length_put(out + *used, nlen), vlen);
    memcpy(p, name, nlen);
    memcpy(p + nlen, value, vlen);
    *used += need;
    return 0;
}
