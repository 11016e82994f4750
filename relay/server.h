/* server.h -- the public listener: accepting clients under the connection
 * cap, answering request heads (upgrade, /healthz, errors) and
 * authenticating new WebSocket sessions. */
#ifndef RELAY_SERVER_H
#define RELAY_SERVER_H

#include "loop.h"

#include <stdbool.h>

/* Listen on every address of addrs, a comma-separated list of "host:port"
 * and "unix:/path" (at most 4). Returns 0 or -1 (logged). */
int server_listen(struct loop *loop, const char *addrs);

/* Stop accepting (close the listener); upgrades are refused from now on. */
void server_stop_accepting(void);

#endif
