/* coro.c -- coroutines on ucontext and setjmp (see coro.h).
 *
 * As in QEMU's coroutine-ucontext.c, ucontext only creates a coroutine
 * and enters it the first time (makecontext, setcontext); every later
 * switch is a _setjmp/_longjmp pair, which saves and restores the
 * registers without swapcontext's two sigprocmask system calls. Each
 * stack is its own mapping with a PROT_NONE page below it, so an overflow
 * faults at once instead of writing over another stack. Under
 * AddressSanitizer every switch is announced with
 * __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, or it
 * would take the other stack for a buffer overflow. */
#include "coro.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct coro {
    ucontext_t start; /* its entry, for the first resume */
    jmp_buf env;      /* where it yielded */
    jmp_buf caller;   /* where coro_resume() was called */
    coro_fn fn;
    void *arg;
    void *map; /* guard page + stack */
    size_t map_len;
    bool started, finished;
    bool urgent; /* the loop's hint (coro.h) */
    /* for AddressSanitizer only: */
    void *fake_stack;          /* its fake stack of the coroutine, while it is left */
    void *caller_fake;         /* and of the resumer (kept here, not in a local
                                  variable, since _longjmp comes back to it) */
    const void *caller_bottom; /* the resumer's stack, for switching back */
    size_t caller_size;
};

static _Thread_local struct coro *current;

/* Tell ASan that the thread is about to switch to the stack [bottom, +size)
 * (bottom NULL: the current fiber ends), and that it has arrived. */
static void switch_starts(void **fake_save, const void *bottom, size_t size)
{
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
    (void)fake_save, (void)bottom, (void)size;
#endif
}

static void switch_done(void *fake, const void **old_bottom, size_t *old_size)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
#else
    (void)fake, (void)old_bottom, (void)old_size;
#endif
}

static const void *stack_bottom(const struct coro *c)
{
    return (const char *)c->map + sysconf(_SC_PAGESIZE);
}

static void trampoline(void)
{
    struct coro *c = current;
    switch_done(NULL, &c->caller_bottom, &c->caller_size);
    c->fn(c->arg);
    c->finished = true;
    switch_starts(NULL, c->caller_bottom, c->caller_size); /* this fiber ends */
    _longjmp(c->caller, 1);
}

struct coro *coro_new(coro_fn fn, void *arg, size_t stack_size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (stack_size + page - 1) / page * page + page;
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
    if (map == MAP_FAILED) {
        log_error("cannot map a coroutine stack of %zu bytes: %s", len, strerror(errno));
        return NULL;
    }
    if (mprotect(map, page, PROT_NONE) < 0)
        log_warn("cannot protect a coroutine's guard page: %s", strerror(errno));
    struct coro *c = xcalloc(1, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->map = map;
    c->map_len = len;
    getcontext(&c->start);
    c->start.uc_stack.ss_sp = (char *)map + page;
    c->start.uc_stack.ss_size = len - page;
    c->start.uc_link = NULL; /* trampoline() never returns */
    makecontext(&c->start, trampoline, 0);
    return c;
}

void coro_free(struct coro *c)
{
    if (!c)
        return;
    munmap(c->map, c->map_len);
    free(c);
}

bool coro_resume(struct coro *c)
{
    if (c->finished)
        return false;
    current = c;
    if (!_setjmp(c->caller)) {
        switch_starts(&c->caller_fake, stack_bottom(c), c->map_len - (size_t)sysconf(_SC_PAGESIZE));
        if (!c->started) {
            c->started = true;
            setcontext(&c->start);
        }
        _longjmp(c->env, 1);
    }
    switch_done(c->caller_fake, NULL, NULL); /* back: c yielded or finished */
    current = NULL;
    return !c->finished;
}

void coro_yield(void)
{
    struct coro *c = current;
    if (!_setjmp(c->env)) {
        switch_starts(&c->fake_stack, c->caller_bottom, c->caller_size);
        _longjmp(c->caller, 1);
    }
    switch_done(c->fake_stack, &c->caller_bottom, &c->caller_size); /* resumed */
}

struct coro *coro_self(void)
{
    return current;
}

void coro_set_urgent(struct coro *c, bool urgent)
{
    c->urgent = urgent;
}

bool coro_is_urgent(const struct coro *c)
{
    return c->urgent;
}
