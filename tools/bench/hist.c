/* hist.c -- log-linear latency histogram. */
#include "hist.h"

#include <string.h>

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
}

unsigned hist_index(uint64_t us)
{
    if (us < 2 * HIST_SUB)
        return (unsigned)us;
    unsigned shift = (unsigned)(63 - __builtin_clzll(us)) - 9; /* us >> shift in [512, 1024) */
    if (shift > HIST_SHIFTS)
        return HIST_BUCKETS - 1;
    return 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((us >> shift) - HIST_SUB);
}

uint64_t hist_bucket_low(unsigned idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    unsigned shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
    uint64_t mant = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
    return mant << shift;
}

void hist_record(struct hist *h, int64_t us)
{
    uint64_t v = us < 0 ? 0 : (uint64_t)us;
    h->buckets[hist_index(v)]++;
    h->count++;
    if (v > h->max_us)
        h->max_us = v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > rank) {
            uint64_t low = hist_bucket_low(i);
            uint64_t high = i + 1 < HIST_BUCKETS ? hist_bucket_low(i + 1) : low;
            uint64_t mid = low + (high - low) / 2;
            return mid > h->max_us ? h->max_us : mid;
        }
    }
    return h->max_us;
}
