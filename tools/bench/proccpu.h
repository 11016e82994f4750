/* proccpu.h -- CPU time of named process groups over a phase of a run,
 * read from /proc: `--cpu NAME=PID` watches PID and its direct children
 * (nginx's master and workers, PostgreSQL's postmaster and its backends),
 * so the report can say what each program of the path cost per login or
 * per message. A process born during the phase counts whole; one that
 * ended during it is missed (its CPU is gone from /proc). */
#ifndef BENCH_PROCCPU_H
#define BENCH_PROCCPU_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROC_GROUPS_MAX 8

struct proc_groups {
    int n;
    char name[PROC_GROUPS_MAX][32];
    int pid[PROC_GROUPS_MAX];
};

/* One reading: every watched process and its CPU time. */
struct proc_snap {
    size_t n, cap;
    struct proc_cpu {
        int pid, group;
        int64_t cpu_ns;
    } * p;
};

/* Add "NAME=PID" (PID > 0, NAME 1..31 bytes) to g. Returns 0, or -1 for
 * a malformed spec or when g is full. */
int proc_groups_add(struct proc_groups *g, const char *spec);

/* Read the CPU of every process of g's groups into s (reused across
 * calls; free with proc_snap_free). */
void proc_snap_read(const struct proc_groups *g, struct proc_snap *s);

void proc_snap_free(struct proc_snap *s);

/* {"NAME": {"cores": C, "us_per_<unit>": U}, ...}: each group's CPU from a
 * to b, as cores over wall_s and as microseconds per item (count items;
 * omitted when 0). NULL when g is empty. */
json_t *proc_groups_json(const struct proc_groups *g, const struct proc_snap *a,
                         const struct proc_snap *b, double wall_s, long long count,
                         const char *unit);

#endif
