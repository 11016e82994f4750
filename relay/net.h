/* net.h -- TCP sockets made a little less tedious: listening on
 * "host:port", accepting non-blocking clients, naming peers. */
#ifndef RELAY_NET_H
#define RELAY_NET_H

#include <stddef.h>

/* Listen on addr ("127.0.0.1:8081", "[::1]:8081", ":8081" for all IPv4
 * addresses); non-blocking, close-on-exec, SO_REUSEADDR. Returns the fd or
 * -1 (logged). */
int net_listen(const char *addr);

/* Accept one client as non-blocking with TCP_NODELAY; writes "ip:port" to
 * peer[peerlen]. Returns the fd, or -1 with errno (EAGAIN when none). */
int net_accept(int lfd, char *peer, size_t peerlen);

#endif
