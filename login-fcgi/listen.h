/* listen.h -- the FastCGI listen socket: a Unix socket path, or
 * host:port on TCP. */
#ifndef LOGIN_LISTEN_H
#define LOGIN_LISTEN_H

/* Open a non-blocking listening socket on addr ("/path/to.sock", or
 * "host:port" and ":port" for every address). A Unix socket is made
 * connectable by the web server's user (mode 0666), replacing a stale
 * socket file. Returns the descriptor, or -1 (logged). */
int listen_open(const char *addr, int backlog);

/* Close it, removing a Unix socket's file. */
void listen_close(int fd, const char *addr);

#endif
