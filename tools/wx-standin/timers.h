/* timers.h -- a binary min-heap of deadlines. The caller embeds a struct
 * timer in its own object and finds the object again with container_of.
 * Pure; no clock, no callbacks. */
#ifndef STANDIN_TIMERS_H
#define STANDIN_TIMERS_H

#include <stddef.h>

struct timer {
    long long when_ms; /* deadline, on the caller's clock */
    size_t slot;       /* position in the heap (managed here) */
};

struct timer_heap {
    struct timer **items;
    size_t len, cap;
};

#define TIMER_HEAP_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Add t (t->when_ms set, t not in a heap). Aborts only when out of memory. */
void timer_heap_add(struct timer_heap *h, struct timer *t);

/* Remove t, which must be in h. */
void timer_heap_remove(struct timer_heap *h, struct timer *t);

/* The earliest timer, or NULL when the heap is empty. */
struct timer *timer_heap_first(const struct timer_heap *h);

/* Free the heap's array (not the timers). */
void timer_heap_free(struct timer_heap *h);

#endif
