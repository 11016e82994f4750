/* timers.c -- a binary min-heap of deadlines. */
#include "timers.h"
#include "util.h"

#include <stdlib.h>

static void place(struct timer_heap *h, size_t i, struct timer *t)
{
    h->items[i] = t;
    t->slot = i;
}

/* Move the timer at i up while it is earlier than its parent. */
static void sift_up(struct timer_heap *h, size_t i)
{
    struct timer *t = h->items[i];
    while (i > 0 && h->items[(i - 1) / 2]->when_ms > t->when_ms) {
        place(h, i, h->items[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, t);
}

/* Move the timer at i down while a child is earlier. */
static void sift_down(struct timer_heap *h, size_t i)
{
    struct timer *t = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len)
            break;
        if (c + 1 < h->len && h->items[c + 1]->when_ms < h->items[c]->when_ms)
            c++;
        if (h->items[c]->when_ms >= t->when_ms)
            break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, t);
}

void timer_heap_add(struct timer_heap *h, struct timer *t)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->items = xrealloc(h->items, h->cap * sizeof(*h->items));
    }
    place(h, h->len++, t);
    sift_up(h, t->slot);
}

void timer_heap_remove(struct timer_heap *h, struct timer *t)
{
    size_t i = t->slot;
    struct timer *last = h->items[--h->len];
    if (last == t)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->slot);
}

struct timer *timer_heap_first(const struct timer_heap *h)
{
    return h->len ? h->items[0] : NULL;
}

void timer_heap_free(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}
