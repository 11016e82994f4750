/* loop.c -- the event loop (see loop.h).
 *
 * Each thread that calls loop_init() has its own loop. Sleepers with a
 * time limit are kept in a list, not a heap: there is at most one per
 * worker coroutine (a few dozen), and each turn scans them once to find
 * the nearest limit and the expired ones. The ready queue is a list with
 * urgent sleepers at its head. Another thread wakes a sleeper through the
 * loop's inbox (under a mutex) and an eventfd in its epoll set. */
#include "loop.h"

#include "coro.h"
#include "log.h"

#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_TURN 64
#define RESUMES_PER_TURN 256 /* then epoll is asked again, even if more are ready */

struct loop {
    int epfd;
    struct loop_sleeper *ready_head, **ready_tail;
    struct loop_sleeper *timed; /* sleepers with a deadline */
    int urgent_asleep;          /* urgent sleepers not yet ready */
    /* wakes asked by other threads */
    int wake_fd; /* eventfd */
    struct loop_watch wake_watch;
    pthread_mutex_t inbox_lock;
    struct loop_sleeper *inbox;
    /* The events of the epoll_wait() being delivered, from the next one
     * on: loop_watch_remove() drops those of the watch it removes. */
    struct epoll_event *pending;
    int n_pending;
};

static _Thread_local struct loop *self; /* this thread's */

long long loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void loop_forget(struct loop_sleeper *s)
{
    pthread_mutex_lock(&self->inbox_lock);
    if (s->in_inbox) { /* then it is in this loop's inbox */
        struct loop_sleeper **link = &self->inbox;
        while (*link != s)
            link = &(*link)->next_inbox;
        *link = s->next_inbox;
        s->in_inbox = false;
    }
    pthread_mutex_unlock(&self->inbox_lock);
}

/* The inbox: wake, on this thread, the sleepers other threads woke. The
 * wakes happen under the inbox's lock, so that a sleeper another thread
 * queues again meanwhile cannot break the list. */
static void inbox_ready(struct loop_watch *w, uint32_t events)
{
    (void)w, (void)events;
    uint64_t count;
    if (read(self->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_warn("reading the loop's eventfd: %s", strerror(errno));
    pthread_mutex_lock(&self->inbox_lock);
    for (struct loop_sleeper *s = self->inbox; s; s = s->next_inbox) {
        s->in_inbox = false;
        loop_wake(s);
    }
    self->inbox = NULL;
    pthread_mutex_unlock(&self->inbox_lock);
}

int loop_init(void)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    l->ready_tail = &l->ready_head;
    l->wake_watch.ready = inbox_ready;
    pthread_mutex_init(&l->inbox_lock, NULL);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self = l;
    if (l->epfd < 0 || l->wake_fd < 0) {
        log_error("epoll_create1, eventfd: %s", strerror(errno));
        loop_free();
        return -1;
    }
    return loop_watch_add(l->wake_fd, EPOLLIN, &l->wake_watch);
}

void loop_free(void)
{
    struct loop *l = self;
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    pthread_mutex_destroy(&l->inbox_lock);
    free(l);
    self = NULL;
}

struct loop *loop_self(void)
{
    return self;
}

void loop_wake_in(struct loop *l, struct loop_sleeper *s)
{
    if (l == self) {
        loop_wake(s);
        return;
    }
    pthread_mutex_lock(&l->inbox_lock);
    bool queued = s->in_inbox;
    if (!queued) {
        s->in_inbox = true;
        s->next_inbox = l->inbox;
        l->inbox = s;
    }
    pthread_mutex_unlock(&l->inbox_lock);
    if (queued)
        return;
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("writing a loop's eventfd: %s", strerror(errno));
}

static int watch_ctl(int op, int fd, uint32_t events, struct loop_watch *w)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(self->epfd, op, fd, &ev) < 0) {
        log_error("epoll_ctl(%s, fd %d): %s", op == EPOLL_CTL_ADD ? "add" : "modify", fd,
                  strerror(errno));
        return -1;
    }
    return 0;
}

int loop_watch_add(int fd, uint32_t events, struct loop_watch *w)
{
    return watch_ctl(EPOLL_CTL_ADD, fd, events, w);
}

int loop_watch_modify(int fd, uint32_t events, struct loop_watch *w)
{
    return watch_ctl(EPOLL_CTL_MOD, fd, events, w);
}

void loop_watch_remove(int fd, struct loop_watch *w)
{
    if (epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
        log_warn("epoll_ctl(delete, fd %d): %s", fd, strerror(errno));
    for (int i = 0; i < self->n_pending; i++)
        if (self->pending[i].data.ptr == w)
            self->pending[i].data.ptr = NULL;
}

static void timed_unlink(struct loop_sleeper *s)
{
    if (s->prev_timed)
        s->prev_timed->next_timed = s->next_timed;
    else if (self->timed == s)
        self->timed = s->next_timed;
    if (s->next_timed)
        s->next_timed->prev_timed = s->prev_timed;
    s->prev_timed = s->next_timed = NULL;
}

/* Queue s to be resumed (an urgent one first); it leaves the timed list. */
static void make_ready(struct loop_sleeper *s)
{
    if (s->deadline_ms >= 0)
        timed_unlink(s);
    s->asleep = false;
    s->queued = true;
    struct loop *l = self;
    if (s->urgent) {
        l->urgent_asleep--;
        s->next_ready = l->ready_head;
        if (!l->ready_head)
            l->ready_tail = &s->next_ready;
        l->ready_head = s;
        return;
    }
    s->next_ready = NULL;
    *l->ready_tail = s;
    l->ready_tail = &s->next_ready;
}

void loop_urgent(bool urgent)
{
    coro_set_urgent(coro_self(), urgent);
}

void loop_wake(struct loop_sleeper *s)
{
    if (!s->asleep || s->queued)
        return;
    s->woken = true;
    make_ready(s);
}

bool loop_sleep(struct loop_sleeper *s, int timeout_ms)
{
    s->co = coro_self();
    s->woken = false;
    s->asleep = true;
    s->urgent = coro_is_urgent(s->co);
    self->urgent_asleep += s->urgent;
    s->deadline_ms = timeout_ms < 0 ? -1 : loop_now_ms() + timeout_ms;
    if (s->deadline_ms >= 0) {
        s->prev_timed = NULL;
        s->next_timed = self->timed;
        if (self->timed)
            self->timed->prev_timed = s;
        self->timed = s;
    }
    coro_yield(); /* until make_ready() and the loop resumes us */
    return s->woken;
}

/* The watch of one descriptor of a loop_wait(). */
struct fd_wait {
    struct loop_watch watch;
    struct pollfd *pfd;
    int *n_ready;
    struct loop_sleeper *sleeper;
};

static void fd_wait_ready(struct loop_watch *w, uint32_t events)
{
    struct fd_wait *fw = (struct fd_wait *)w;
    if (!fw->pfd->revents)
        (*fw->n_ready)++;
    fw->pfd->revents = (short)(events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP));
    loop_wake(fw->sleeper);
}

int loop_wait(struct pollfd *fds, int n, int timeout_ms)
{
    struct loop_sleeper sleeper = {0};
    struct fd_wait waits[LOOP_WAIT_MAX];
    int n_ready = 0, added = 0, rc = 0;
    for (; added < n && added < LOOP_WAIT_MAX; added++) {
        fds[added].revents = 0;
        waits[added] = (struct fd_wait){{fd_wait_ready}, &fds[added], &n_ready, &sleeper};
        if (loop_watch_add(fds[added].fd, (uint32_t)fds[added].events, &waits[added].watch) < 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0)
        loop_sleep(&sleeper, timeout_ms);
    for (int i = 0; i < added; i++)
        loop_watch_remove(fds[i].fd, &waits[i].watch);
    return rc < 0 ? -1 : n_ready;
}

/* How long epoll_wait may wait: not at all when a coroutine is ready, no
 * longer than the nearest deadline or max_wait_ms. */
static int wait_budget(int max_wait_ms, long long now)
{
    if (self->ready_head)
        return 0;
    long long budget = max_wait_ms;
    for (struct loop_sleeper *s = self->timed; s; s = s->next_timed) {
        long long left = s->deadline_ms > now ? s->deadline_ms - now : 0;
        if (budget < 0 || left < budget)
            budget = left;
    }
    return (int)budget;
}

static void expire_sleepers(long long now)
{
    struct loop_sleeper *s = self->timed;
    while (s) {
        struct loop_sleeper *next = s->next_timed;
        if (s->deadline_ms <= now && s->asleep && !s->queued)
            make_ready(s); /* not woken: the time ran out */
        s = next;
    }
}

/* Wait for descriptors at most wait_ms, call their watches, and wake the
 * sleepers whose time is up. */
static int poll_events(int wait_ms)
{
    struct epoll_event events[EVENTS_PER_TURN];
    int n = epoll_wait(self->epfd, events, EVENTS_PER_TURN, wait_ms);
    if (n < 0 && errno != EINTR) {
        log_error("epoll_wait: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        self->pending = &events[i + 1];
        self->n_pending = n - i - 1;
        struct loop_watch *w = events[i].data.ptr;
        if (w) /* NULL: removed by an earlier watch of this batch */
            w->ready(w, events[i].events);
    }
    self->pending = NULL;
    self->n_pending = 0;
    expire_sleepers(loop_now_ms());
    return 0;
}

/* Resume ready coroutines, head first, until none is ready (or a turn's
 * worth); poll between two while an urgent one waits for a descriptor. */
static int run_ready(void)
{
    struct loop *l = self;
    for (int i = 0; i < RESUMES_PER_TURN && l->ready_head; i++) {
        struct loop_sleeper *s = l->ready_head;
        l->ready_head = s->next_ready;
        if (!l->ready_head)
            l->ready_tail = &l->ready_head;
        s->queued = false;
        coro_resume(s->co); /* s may be gone after: it lived on the coroutine's stack */
        if (l->urgent_asleep > 0 && poll_events(0) < 0)
            return -1;
    }
    return 0;
}

int loop_turn(int max_wait_ms)
{
    if (poll_events(wait_budget(max_wait_ms, loop_now_ms())) < 0)
        return -1;
    return run_ready();
}
