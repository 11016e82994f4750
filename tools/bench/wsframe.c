/* wsframe.c -- RFC 6455 client framing and handshake key helpers. */
#include "wsframe.h"

#include "crypto.h"

#include <openssl/evp.h>
#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

size_t ws_frame_encode(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len,
                       const uint8_t mask[4])
{
    size_t h = 2;
    if (len >= 65536)
        h += 8;
    else if (len >= 126)
        h += 2;
    if (cap < h + 4 || cap - h - 4 < len)
        return 0;
    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        out[1] = 0x80 | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
    } else {
        out[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(out + h, mask, 4);
    const uint8_t *p = payload;
    uint8_t *dst = out + h + 4;
    for (size_t i = 0; i < len; i++)
        dst[i] = p[i] ^ mask[i & 3];
    return h + 4 + len;
}

/* Opcodes RFC 6455 defines. */
static int ws_opcode_known(int op)
{
    return op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
           op == WS_OP_PING || op == WS_OP_PONG;
}

int ws_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, struct ws_frame *f)
{
    if (len < 2)
        return 0;
    int fin = buf[0] >> 7, opcode = buf[0] & 0x0f;
    if ((buf[0] & 0x70) || (buf[1] & 0x80) || !ws_opcode_known(opcode))
        return -1;
    size_t h = 2;
    uint64_t plen = buf[1] & 0x7f;
    if (plen == 126) {
        if (len < 4)
            return 0;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        h = 4;
    } else if (plen == 127) {
        if (len < 10)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
        h = 10;
    }
    if ((opcode & 0x8) && (!fin || plen > 125))
        return -1;
    if (plen > max_payload)
        return -1;
    if (len - h < plen)
        return 0;
    f->fin = fin;
    f->opcode = opcode;
    f->payload = buf + h;
    f->len = (size_t)plen;
    f->frame_len = h + (size_t)plen;
    return 1;
}

void ws_key_make(const uint8_t nonce[16], char out[WS_KEY_LEN + 1])
{
    base64_encode(nonce, 16, out);
}

int ws_accept_for_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    char text[128];
    size_t klen = strlen(key);
    if (klen + sizeof WS_GUID > sizeof text)
        return -1;
    memcpy(text, key, klen);
    memcpy(text + klen, WS_GUID, sizeof WS_GUID - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, klen + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
        mdlen != 20)
        return -1;
    base64_encode(md, 20, out);
    return 0;
}
