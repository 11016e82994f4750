/* rate.c -- token bucket with an abuse counter. */
#include "rate.h"

void rate_init(struct rate_bucket *b, double burst, long long now_ms)
{
    b->tokens = burst;
    b->last_ms = now_ms;
    b->window_start_ms = now_ms;
    b->refused = 0;
}

bool rate_take(struct rate_bucket *b, double rate, double burst, long long now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (now_ms - b->window_start_ms >= RATE_ABUSE_WINDOW_MS) {
        b->window_start_ms = now_ms;
        b->refused = 0;
    }
    b->refused++;
    return false;
}

int rate_refusals(const struct rate_bucket *b)
{
    return b->refused;
}
