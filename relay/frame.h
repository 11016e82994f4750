/* frame.h -- unmasked server-to-client WebSocket frames (RFC 6455 5.2),
 * built once and shared by reference count among recipients' queues. */
#ifndef RELAY_FRAME_H
#define RELAY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_MAX 10
#define FRAME_OP_TEXT 0x1
#define FRAME_OP_CLOSE 0x8

/* Write the header of a final, unmasked frame with `opcode` and a payload
 * of `len` bytes into out (FRAME_HEADER_MAX bytes). Returns its length
 * (2, 4 or 10: 7-, 16- or 64-bit length). */
size_t frame_header(uint8_t *out, uint8_t opcode, uint64_t len);

/* A complete frame (header + payload) with a reference count. */
struct frame {
    int refs;
    size_t len;
    uint8_t data[];
};

/* A new text frame holding a copy of payload, with one reference owned by
 * the caller. */
struct frame *frame_text(const char *payload, size_t len);

/* The payload of a frame made by frame_text and its length. */
const char *frame_payload(const struct frame *f, size_t *len);

/* A new frame holding a copy of len raw bytes (already framed, or part of
 * the byte stream such as an HTTP answer), one reference for the caller. */
struct frame *frame_raw(const void *data, size_t len);

/* Take another reference; returns f. */
struct frame *frame_ref(struct frame *f);

/* Drop a reference; frees the frame with the last. NULL is ignored. */
void frame_unref(struct frame *f);

#endif
