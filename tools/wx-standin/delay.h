/* delay.h -- exchanges answered after a code's delayMs, on a timer and
 * without holding up other requests. A delayed answer outlives its
 * connection: when the client has gone, it is still computed when due
 * (marking the code used, as the Node version did) and then dropped. */
#ifndef STANDIN_DELAY_H
#define STANDIN_DELAY_H

#include "exchange.h"
#include "server.h"

/* Delayed answers held at most; beyond, exchanges are answered at once. */
#define DELAY_MAX_PENDING 10000

struct delayed;

/* Answer exchange `later` on connection c in delay_ms. Takes `later`.
 * Returns the handle, or NULL (logged, `later` not taken) when
 * DELAY_MAX_PENDING answers are already waiting. */
struct delayed *delay_start(struct server *srv, struct conn *c, long delay_ms,
                            struct exchange_later *later);

/* The connection of d is closing: compute the answer when due, send it to
 * nobody. */
void delay_detach(struct delayed *d);

/* Answer every delayed exchange due at now_ms (conn_deliver()). */
void delay_run_due(struct server *srv, long long now_ms);

/* The earliest due time, or -1 when none is waiting. */
long long delay_next_ms(const struct server *srv);

/* Drop every delayed answer unanswered (shutting down). */
void delay_free_all(struct server *srv);

#endif
