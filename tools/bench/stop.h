/* stop.h -- graceful stop of a load generator run on SIGINT or SIGTERM:
 * the loops check stop_requested() and the run still prints its report
 * (marked "interrupted"), so a run cut by `timeout` keeps what it measured. */
#ifndef BENCH_STOP_H
#define BENCH_STOP_H

#include <stdbool.h>

/* Install the SIGINT and SIGTERM handlers (and ignore SIGPIPE). */
void stop_install(void);

/* True once SIGINT or SIGTERM arrived. Async-signal-safe to call. */
bool stop_requested(void);

#endif
