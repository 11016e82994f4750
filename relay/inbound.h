/* inbound.h -- what happens to a complete message from an open client:
 * UTF-8 and session-expiry checks, validation, rate limiting, and queueing
 * for the room's next batch. */
#ifndef RELAY_INBOUND_H
#define RELAY_INBOUND_H

#include "conn.h"

#include <stdbool.h>
#include <stddef.h>

/* Handle one data message (text when is_text, else binary) from c, which
 * is CONN_OPEN. May close c (never frees it). */
void inbound_message(struct conn *c, bool is_text, const char *data, size_t len);

#endif
