/* rate.h -- token bucket (sustained rate, burst) and a sliding count of
 * refusals used to detect abuse. Pure: the caller passes the time. */
#ifndef RELAY_RATE_H
#define RELAY_RATE_H

#include <stdbool.h>

struct rate_bucket {
    double tokens;
    long long last_ms;
    /* refusals within the abuse window */
    long long window_start_ms;
    int refused;
};

/* Start full (burst tokens) at now_ms. */
void rate_init(struct rate_bucket *b, double burst, long long now_ms);

/* Take one token if available (refilling rate/s up to burst). Returns true
 * when allowed; false counts as a refusal. */
bool rate_take(struct rate_bucket *b, double rate, double burst, long long now_ms);

/* Refusals counted in the current window of window_ms (the window restarts
 * at the first refusal after it ends). */
int rate_refusals(const struct rate_bucket *b);

#define RATE_ABUSE_WINDOW_MS 10000

#endif
