/* loop.c -- epoll event loop with timers and a before-sleep hook. */
#include "loop.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

struct loop_fd {
    loop_fd_fn fn;
    void *data;
    int mask;
    int active;
};

struct loop_timer {
    long long id;
    long long when;
    loop_timer_fn fn;
    void *data;
    int deleted;
    struct loop_timer *next;
};

struct loop {
    int epfd;
    struct loop_fd *fds;
    int nfds;
    struct loop_timer *timers;
    long long next_timer_id;
    loop_hook_fn before_sleep;
    void *before_sleep_data;
    int stop;
};

long long loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long loop_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_create(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        log_error("loop: epoll_create1: %s", strerror(errno));
        return NULL;
    }
    struct loop *loop = xcalloc(1, sizeof(*loop));
    loop->epfd = epfd;
    return loop;
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    while (loop->timers) {
        struct loop_timer *t = loop->timers;
        loop->timers = t->next;
        free(t);
    }
    close(loop->epfd);
    free(loop->fds);
    free(loop);
}

static uint32_t epoll_mask(int mask)
{
    return (mask & LOOP_READ ? EPOLLIN : 0) | (mask & LOOP_WRITE ? EPOLLOUT : 0);
}

int loop_watch(struct loop *loop, int fd, int mask, loop_fd_fn fn, void *data)
{
    if (fd >= loop->nfds) {
        int n = loop->nfds ? loop->nfds : 64;
        while (n <= fd)
            n *= 2;
        loop->fds = xrealloc(loop->fds, (size_t)n * sizeof(*loop->fds));
        memset(loop->fds + loop->nfds, 0, (size_t)(n - loop->nfds) * sizeof(*loop->fds));
        loop->nfds = n;
    }
    struct loop_fd *f = &loop->fds[fd];
    struct epoll_event ev = {.events = epoll_mask(mask), .data.fd = fd};
    int op = f->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        log_error("loop: epoll_ctl(fd=%d): %s", fd, strerror(errno));
        return -1;
    }
    *f = (struct loop_fd){.fn = fn, .data = data, .mask = mask, .active = 1};
    return 0;
}

int loop_set_mask(struct loop *loop, int fd, int mask)
{
    if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].active)
        return -1;
    if (loop->fds[fd].mask == mask)
        return 0;
    struct epoll_event ev = {.events = epoll_mask(mask), .data.fd = fd};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        log_error("loop: epoll_ctl(MOD fd=%d): %s", fd, strerror(errno));
        return -1;
    }
    loop->fds[fd].mask = mask;
    return 0;
}

void loop_unwatch(struct loop *loop, int fd)
{
    if (fd < 0 || fd >= loop->nfds || !loop->fds[fd].active)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(&loop->fds[fd], 0, sizeof(loop->fds[fd]));
}

long long loop_add_timer(struct loop *loop, long long delay_ms, loop_timer_fn fn, void *data)
{
    struct loop_timer *t = xcalloc(1, sizeof(*t));
    t->id = ++loop->next_timer_id;
    t->when = loop_now_ms() + delay_ms;
    t->fn = fn;
    t->data = data;
    t->next = loop->timers;
    loop->timers = t;
    return t->id;
}

void loop_del_timer(struct loop *loop, long long id)
{
    for (struct loop_timer *t = loop->timers; t; t = t->next)
        if (t->id == id)
            t->deleted = 1;
}

void loop_set_before_sleep(struct loop *loop, loop_hook_fn fn, void *data)
{
    loop->before_sleep = fn;
    loop->before_sleep_data = data;
}

void loop_stop(struct loop *loop)
{
    loop->stop = 1;
}

/* Milliseconds until the earliest timer (-1: none, 0: due). */
static int loop_wait_ms(struct loop *loop)
{
    long long now = loop_now_ms(), best = -1;
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        if (t->deleted)
            continue;
        long long d = t->when > now ? t->when - now : 0;
        if (best < 0 || d < best)
            best = d;
    }
    return best > 60000 ? 60000 : (int)best;
}

/* Fire due timers, then drop deleted ones. */
static void loop_run_timers(struct loop *loop)
{
    long long now = loop_now_ms();
    long long max_id = loop->next_timer_id; /* timers added now wait a turn */
    for (struct loop_timer *t = loop->timers; t; t = t->next) {
        if (t->deleted || t->id > max_id || t->when > now)
            continue;
        long long next = t->fn(loop, t->id, t->data);
        if (next < 0)
            t->deleted = 1;
        else
            t->when = loop_now_ms() + next;
    }
    struct loop_timer **pp = &loop->timers;
    while (*pp) {
        struct loop_timer *t = *pp;
        if (t->deleted) {
            *pp = t->next;
            free(t);
        } else {
            pp = &t->next;
        }
    }
}

int loop_run(struct loop *loop)
{
    struct epoll_event events[LOOP_MAX_EVENTS];
    loop->stop = 0;
    while (!loop->stop) {
        if (loop->before_sleep)
            loop->before_sleep(loop, loop->before_sleep_data);
        if (loop->stop)
            break;
        int n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, loop_wait_ms(loop));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("loop: epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd >= loop->nfds || !loop->fds[fd].active)
                continue; /* unwatched by an earlier callback this turn */
            uint32_t e = events[i].events;
            int mask = 0;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                mask |= LOOP_READ;
            if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                mask |= LOOP_WRITE;
            int reg = loop->fds[fd].mask;
            mask = reg ? (mask & reg) : ((e & (EPOLLERR | EPOLLHUP)) ? LOOP_READ : 0);
            struct loop_fd f = loop->fds[fd];
            if (mask)
                f.fn(loop, fd, mask, f.data);
        }
        loop_run_timers(loop);
    }
    return 0;
}
