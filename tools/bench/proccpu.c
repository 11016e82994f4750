/* proccpu.c -- CPU time of process groups from /proc/PID/stat. */
#include "proccpu.h"

#include "sysstat.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int proc_groups_add(struct proc_groups *g, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(g->name[0]) || g->n == PROC_GROUPS_MAX)
        return -1;
    char *end = NULL;
    long pid = strtol(eq + 1, &end, 10);
    if (pid <= 0 || pid > 1 << 30 || *end != '\0')
        return -1;
    memcpy(g->name[g->n], spec, (size_t)(eq - spec));
    g->name[g->n][eq - spec] = '\0';
    g->pid[g->n++] = (int)pid;
    return 0;
}

/* The group process pid (whose parent is ppid) belongs to, or -1. */
static int group_of(const struct proc_groups *g, int pid, int ppid)
{
    for (int i = 0; i < g->n; i++)
        if (g->pid[i] == pid || g->pid[i] == ppid)
            return i;
    return -1;
}

static void snap_push(struct proc_snap *s, int pid, int group, int64_t cpu_ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->p = xrealloc(s->p, s->cap * sizeof(*s->p));
    }
    s->p[s->n++] = (struct proc_cpu){pid, group, cpu_ns};
}

void proc_snap_read(const struct proc_groups *g, struct proc_snap *s)
{
    s->n = 0;
    if (g->n == 0)
        return;
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int pid = atoi(e->d_name), ppid;
        int64_t cpu;
        if (proc_stat_read(pid, &ppid, &cpu) != 0)
            continue;
        int group = group_of(g, pid, ppid);
        if (group >= 0)
            snap_push(s, pid, group, cpu);
    }
    closedir(d);
}

void proc_snap_free(struct proc_snap *s)
{
    free(s->p);
    *s = (struct proc_snap){0};
}

/* CPU of pid in snapshot s, 0 when it was not there (born since). */
static int64_t cpu_in(const struct proc_snap *s, int pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i].pid == pid)
            return s->p[i].cpu_ns;
    return 0;
}

json_t *proc_groups_json(const struct proc_groups *g, const struct proc_snap *a,
                         const struct proc_snap *b, double wall_s, long long count,
                         const char *unit)
{
    if (g->n == 0)
        return NULL;
    int64_t used[PROC_GROUPS_MAX] = {0};
    for (size_t i = 0; i < b->n; i++)
        used[b->p[i].group] += b->p[i].cpu_ns - cpu_in(a, b->p[i].pid);
    char per[48];
    snprintf(per, sizeof per, "us_per_%s", unit);
    json_t *j = json_object();
    for (int i = 0; i < g->n; i++) {
        json_t *one = json_object();
        double ns = (double)used[i];
        json_object_set_new(
            one, "cores", json_real(round(ns / 1e9 / (wall_s > 0 ? wall_s : 1e-9) * 1000) / 1000));
        if (count > 0)
            json_object_set_new(one, per, json_real(round(ns / 1e3 / (double)count * 10) / 10));
        json_object_set_new(j, g->name[i], one);
    }
    return j;
}
