/* sysstat.c -- clocks and /proc readings. */
#include "sysstat.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t self_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

long long proc_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

int proc_stat_read(int pid, int *ppid, int64_t *cpu_ns)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", ppid, &ut, &st) != 3)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    *cpu_ns = (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100)));
    return 0;
}

int64_t proc_cpu_ns(int pid)
{
    int ppid;
    int64_t ns;
    return proc_stat_read(pid, &ppid, &ns) == 0 ? ns : -1;
}

int64_t proc_runq_wait_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long run, wait;
    int n = fscanf(f, "%lld %lld", &run, &wait);
    fclose(f);
    return n == 2 ? wait : -1;
}

int machine_ticks_read(struct machine_ticks *t)
{
    unsigned long long v[8] = {0};
    memset(t, 0, sizeof *t);
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -1;
    for (int i = 0; i < 8; i++)
        t->total += v[i];
    t->busy = t->total - v[3] - v[4]; /* idle and iowait */
    return 0;
}

double machine_busy_share(const struct machine_ticks *a, const struct machine_ticks *b)
{
    if (b->total <= a->total)
        return 0;
    return (double)(b->busy - a->busy) / (double)(b->total - a->total);
}

int64_t machine_io_stall_us(void)
{
    FILE *f = fopen("/proc/pressure/io", "r");
    if (!f)
        return -1;
    char line[256];
    long long total = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "full avg10=%*f avg60=%*f avg300=%*f total=%lld", &total) == 1)
            break;
    fclose(f);
    return total;
}

int machine_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
