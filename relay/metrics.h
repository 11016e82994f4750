/* metrics.h -- the relay's counters and gauges, and the Prometheus text
 * endpoint (GET /metrics) on RELAY_METRICS_LISTEN. */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>

struct metrics {
    long long connections, rooms;
    unsigned long long messages_in, messages_out, bytes_in, bytes_out, queue_overflows;
    unsigned long long db_roundtrips;
    double db_roundtrip_seconds_sum;
    bool db_up;
    unsigned long long closes[5000]; /* by close code, 1000..4999 */
};

extern struct metrics metrics;

/* Count one close frame sent with `code`. */
void metrics_close(int code);

/* Record one database round trip of ms milliseconds. */
void metrics_db_roundtrip(long long ms);

/* Render the Prometheus text exposition into a malloc'ed string. */
char *metrics_render(size_t *len);

/* Listen on addr ("host:port") for GET /metrics. Returns 0 or -1 (logged). */
int metrics_listen(struct loop *loop, const char *addr);

/* Close the listener and any open metrics request. */
void metrics_shutdown(void);

#endif
