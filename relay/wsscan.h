/* wsscan.h -- follows the frame boundaries of a client's byte stream (RFC
 * 6455 5.2 headers only, no payload) so the connection knows when wslay
 * holds no partial frame and no unfinished fragmented message: only then
 * may its wslay context (about 9 KiB) be freed while the client is idle.
 * Pure, no allocation: 16 bytes per connection. */
#ifndef RELAY_WSSCAN_H
#define RELAY_WSSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wsscan {
    uint64_t left;  /* payload bytes of the current frame still to come */
    uint8_t hdr[4]; /* first header bytes seen (b0, b1) */
    uint8_t hlen;   /* header bytes seen so far (0: at a frame boundary) */
    uint8_t need;   /* header length once b1 is known (2..14) */
    bool in_msg;    /* a fragmented data message is unfinished */
    uint8_t ext[8]; /* extended length bytes */
};

/* Account for n bytes of the stream. */
void wsscan_feed(struct wsscan *s, const uint8_t *p, size_t n);

/* true when the bytes fed so far end exactly at a frame boundary outside a
 * fragmented message. */
bool wsscan_idle(const struct wsscan *s);

#endif
