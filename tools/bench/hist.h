/* hist.h -- a fixed-size latency histogram (microsecond input, about 0.2 %
 * relative precision, values up to 2^40 us): recording is a few
 * instructions and never allocates. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB 512
#define HIST_SHIFTS 31
#define HIST_BUCKETS (2 * HIST_SUB + HIST_SHIFTS * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max_us;
    uint64_t buckets[HIST_BUCKETS];
};

/* Empty the histogram. */
void hist_reset(struct hist *h);

/* Record one value in microseconds (negative values count as 0). */
void hist_record(struct hist *h, int64_t us);

/* The value at quantile q (0..1) in microseconds: the midpoint of the
 * bucket holding it, capped at the exact maximum; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Bucket index of a value, and the lowest value of a bucket (exposed for
 * the self-test). */
unsigned hist_index(uint64_t us);
uint64_t hist_bucket_low(unsigned idx);

#endif
