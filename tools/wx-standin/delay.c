/* delay.c -- the heap of delayed exchange answers. */
#include "delay.h"
#include "conn.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>

struct delayed {
    struct timer timer;
    struct conn *conn; /* NULL once detached */
    struct exchange_later *later;
};

struct delayed *delay_start(struct server *srv, struct conn *c, long delay_ms,
                            struct exchange_later *later)
{
    if (srv->ndelays >= DELAY_MAX_PENDING) {
        log_warn("delay: %d delayed answers waiting; answering this exchange at once",
                 DELAY_MAX_PENDING);
        return NULL;
    }
    struct delayed *d = xcalloc(1, sizeof(*d));
    d->conn = c;
    d->later = later;
    d->timer.when_ms = server_now_ms() + delay_ms;
    timer_heap_add(&srv->delays, &d->timer);
    srv->ndelays++;
    return d;
}

void delay_detach(struct delayed *d)
{
    d->conn = NULL;
}

static void delayed_free(struct server *srv, struct delayed *d)
{
    timer_heap_remove(&srv->delays, &d->timer);
    srv->ndelays--;
    exchange_later_free(d->later);
    free(d);
}

void delay_run_due(struct server *srv, long long now_ms)
{
    struct timer *t;
    while ((t = timer_heap_first(&srv->delays)) && t->when_ms <= now_ms) {
        struct delayed *d = container_of(t, struct delayed, timer);
        struct answer a = ANSWER_INIT;
        exchange_finish(srv->app, d->later, now_ms, &a);
        struct conn *c = d->conn;
        delayed_free(srv, d);
        if (c)
            conn_deliver(c, &a);
        answer_free(&a);
    }
}

long long delay_next_ms(const struct server *srv)
{
    struct timer *t = timer_heap_first(&srv->delays);
    return t ? t->when_ms : -1;
}

void delay_free_all(struct server *srv)
{
    struct timer *t;
    while ((t = timer_heap_first(&srv->delays)))
        delayed_free(srv, container_of(t, struct delayed, timer));
    timer_heap_free(&srv->delays);
}
