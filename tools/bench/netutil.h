/* netutil.h -- loopback TCP helpers for the load generator: address
 * parsing and non-blocking connects. */
#ifndef BENCH_NETUTIL_H
#define BENCH_NETUTIL_H

#include <netinet/in.h>

/* Parse "A.B.C.D:PORT" into *addr. Returns 0, or -1 when malformed. */
int net_parse_addr(const char *text, struct sockaddr_in *addr);

/* Start a non-blocking connect to addr with TCP_NODELAY. Returns the fd
 * (connected or in progress: wait for writability and check with
 * net_connect_result), or -1 with errno set. */
int net_connect_start(const struct sockaddr_in *addr);

/* The outcome of a connect once the socket is writable: 0, or the errno. */
int net_connect_result(int fd);

#endif
