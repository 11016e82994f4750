/* selftest.h -- `loadgen selftest`: known-answer checks of the load
 * generator's pure parts (framing, handshake key, HTTP parsing, frame scan,
 * histogram), run before every benchmark so a broken client cannot pass
 * off wrong numbers. */
#ifndef BENCH_SELFTEST_H
#define BENCH_SELFTEST_H

/* Run every check; prints one line per failure and a summary on stderr.
 * Returns 0 when all pass, -1 otherwise. */
int selftest_run(void);

#endif
