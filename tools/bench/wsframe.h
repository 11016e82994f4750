/* wsframe.h -- the client side of RFC 6455 for the load generator: masked
 * frames out, unmasked frames in, and the upgrade handshake's key and
 * Sec-WebSocket-Accept check. Pure functions: no I/O, no allocation. */
#ifndef BENCH_WSFRAME_H
#define BENCH_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Largest header of a client frame (2 + 8 length bytes + 4 mask bytes). */
#define WS_CLIENT_HEADER_MAX 14
/* Length of a Sec-WebSocket-Key (base64 of 16 bytes), without NUL. */
#define WS_KEY_LEN 24
/* Length of a Sec-WebSocket-Accept value, without NUL. */
#define WS_ACCEPT_LEN 28

/* One frame received from the server. `payload` points into the buffer
 * given to ws_frame_parse (borrowed); `frame_len` is header + payload. */
struct ws_frame {
    int fin;
    int opcode;
    const uint8_t *payload;
    size_t len;
    size_t frame_len;
};

/* Write a client frame (FIN set, masked with `mask`) of `opcode` carrying
 * payload[0..len) into out. Returns the frame's length, or 0 when it does not
 * fit in `cap` bytes (out is then unspecified). */
size_t ws_frame_encode(uint8_t *out, size_t cap, int opcode, const void *payload, size_t len,
                       const uint8_t mask[4]);

/* Parse the frame at the start of buf[0..len). Returns 1 and fills *f when
 * a whole frame is there, 0 when more bytes are needed, -1 for a protocol
 * violation: reserved bits set, a masked server frame, an unknown opcode, a
 * control frame fragmented or over 125 bytes, or a payload over max_payload. */
int ws_frame_parse(const uint8_t *buf, size_t len, size_t max_payload, struct ws_frame *f);

/* Make a Sec-WebSocket-Key from 16 bytes of nonce: out gets WS_KEY_LEN
 * characters and a NUL. */
void ws_key_make(const uint8_t nonce[16], char out[WS_KEY_LEN + 1]);

/* Compute the Sec-WebSocket-Accept the server must answer for `key`:
 * out gets WS_ACCEPT_LEN characters and a NUL. Returns 0, or -1 if
 * OpenSSL fails. */
int ws_accept_for_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

#endif
