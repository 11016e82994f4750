/* login_group.h -- logins of concurrent workers stored together.
 *
 * Each login is one upsert and one insert; what costs PostgreSQL most is
 * not those rows but one statement, one transaction and one round trip
 * per login, on as many connections as there are workers. So a worker
 * with a login to store queues it here; when fewer than `max_leaders`
 * batches are running, that worker becomes a leader: it takes up to
 * `max_batch` queued logins (its own and those that arrived meanwhile, at
 * most one per openid) and stores them with one call of `run` on its own
 * connection, while the others wait. When a batch ends, a waiting worker
 * leads the next one. Under light load every login leads its own batch
 * at once; under heavy load batches grow by themselves. (The pattern is
 * the group commit of databases.) */
#ifndef LOGIN_LOGIN_GROUP_H
#define LOGIN_LOGIN_GROUP_H

#include "store.h"

#include <stddef.h>

/* Stores n logins (distinct openids) on st and sets each job's status;
 * store_login_batch() in the server, a fake in unit tests. */
typedef size_t (*login_group_run_fn)(struct store *st, struct store_login_job *jobs, size_t n);

struct login_group;

/* A group that runs at most max_leaders batches at a time, each of at most
 * max_batch logins (both at least 1), with `run`. */
struct login_group *login_group_new(size_t max_batch, size_t max_leaders, login_group_run_fn run);

/* Free the group; no worker may be inside login_group_store(). NULL is
 * fine. */
void login_group_free(struct login_group *g);

/* Store one login, together with whatever others are queued, using st
 * (the calling worker's own store) if this worker leads the batch. Blocks
 * until the login is stored or has failed; fills *out on STORE_OK.
 * Returns the login's status as store_login_batch() sets it. */
enum store_status login_group_store(struct login_group *g, struct store *st,
                                   const struct store_login *in, struct store_user *out);

#endif
