/* sysstat.h -- clocks and CPU/memory readings for the load generator: its
 * own CPU (getrusage), another process's RSS and CPU (/proc/PID), the whole
 * machine's busy share (/proc/stat) and its disk stalls (/proc/pressure/io). */
#ifndef BENCH_SYSSTAT_H
#define BENCH_SYSSTAT_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t now_ns(void);

/* This process's user+system CPU time in nanoseconds (getrusage). */
int64_t self_cpu_ns(void);

/* VmRSS of process `pid` in KiB, or -1 when unreadable. */
long long proc_rss_kb(int pid);

/* utime+stime of process `pid` in nanoseconds, or -1 when unreadable. */
int64_t proc_cpu_ns(int pid);

/* The parent (*ppid) and utime+stime (*cpu_ns) of process `pid` from
 * /proc/PID/stat. Returns 0, or -1 when unreadable. */
int proc_stat_read(int pid, int *ppid, int64_t *cpu_ns);

/* Time process `pid` spent runnable but waiting for a CPU, in nanoseconds
 * (second field of /proc/PID/schedstat), or -1 when unreadable. */
int64_t proc_runq_wait_ns(int pid);

/* Machine-wide CPU counters from /proc/stat (all cores), in clock ticks. */
struct machine_ticks {
    unsigned long long busy, total;
};

/* Read the counters; returns 0, or -1 (counters zeroed) when unreadable. */
int machine_ticks_read(struct machine_ticks *t);

/* Busy share of all cores between two readings, 0..1 (0 when unknown). */
double machine_busy_share(const struct machine_ticks *a, const struct machine_ticks *b);

/* Time during which every runnable task of the machine waited for the
 * disk ("full" line of /proc/pressure/io), in microseconds since boot, or
 * -1 when the kernel does not report pressure. */
int64_t machine_io_stall_us(void);

/* Number of online cores. */
int machine_cores(void);

#endif
