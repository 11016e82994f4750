/* login_group.h -- logins of concurrent workers stored together.
 *
 * Each login is one upsert and one insert; what costs PostgreSQL most is
 * not those rows but one statement, one transaction and one round trip
 * per login, on as many connections as there are workers. So a worker
 * with a login to store queues it here; when one of the group's stores
 * (connections) is idle, that worker becomes a leader: it takes up to
 * `max_batch` queued logins (its own and those that arrived meanwhile, at
 * most one per openid) and stores them with one call of `run` on that
 * store, while the others wait. When a batch ends, a waiting worker leads
 * the next one. Under light load every login leads its own batch at once;
 * under heavy load batches grow by themselves. (The pattern is the group
 * commit of databases.)
 *
 * The batches run on the group's own connections, not on the leaders':
 * one backend that runs every batch stays warm, where batches spread over
 * all the workers' backends cost PostgreSQL about a fifth more CPU per
 * login (docs/login.md). */
#ifndef LOGIN_LOGIN_GROUP_H
#define LOGIN_LOGIN_GROUP_H

#include "store.h"

#include <stddef.h>

/* Stores n logins (distinct openids) on st and sets each job's status;
 * store_login_batch() in the server, a fake in unit tests. */
typedef size_t (*login_group_run_fn)(struct store *st, struct store_login_job *jobs, size_t n);

struct login_group;

/* A group that runs batches of at most max_batch logins (at least 1) with
 * `run`, each on one of the n_stores `stores` (at least 1): at most
 * n_stores batches at a time. The stores are borrowed: the caller frees
 * them after the group. */
struct login_group *login_group_new(size_t max_batch, struct store *const *stores, size_t n_stores,
                                    login_group_run_fn run);

/* Free the group; no worker may be inside login_group_store(). NULL is
 * fine. */
void login_group_free(struct login_group *g);

/* Store one login, together with whatever others are queued. From a
 * worker coroutine (loop.h): returns when the login is stored or has
 * failed, the other workers running meanwhile; fills *out on STORE_OK. Returns the
 * login's status as store_login_batch() sets it. */
enum store_status login_group_store(struct login_group *g, const struct store_login *in,
                                   struct store_user *out);

#endif
