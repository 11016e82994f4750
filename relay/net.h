/* net.h -- stream sockets made a little less tedious: listening on
 * "host:port" or "unix:/path", accepting non-blocking clients, naming
 * peers. */
#ifndef RELAY_NET_H
#define RELAY_NET_H

#include <stddef.h>

/* Listen on addr ("127.0.0.1:8081", "[::1]:8081", ":8081" for all IPv4
 * addresses; non-blocking, close-on-exec, SO_REUSEADDR) or on a Unix-domain
 * socket ("unix:/run/chat/relay.sock", replacing a stale socket file but
 * not one a running process serves, mode 0666). Returns the fd or -1
 * (logged). */
int net_listen(const char *addr);

/* Accept one client as non-blocking (TCP ones with TCP_NODELAY); writes
 * "ip:port", or "unix" for a Unix-domain peer, to peer[peerlen]. Returns
 * the fd, or -1 with errno (EAGAIN when none). */
int net_accept(int lfd, char *peer, size_t peerlen);

#endif
