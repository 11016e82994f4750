/* server.h -- login-fcgi's FastCGI server: LOGIN_THREADS threads, each
 * running an event loop (loop.h) with its share of the LOGIN_WORKERS
 * worker coroutines, each worker with its own database store and WeChat
 * client; all serving the connections nginx opens on one listen socket;
 * and the graceful stop on SIGTERM/SIGINT. */
#ifndef LOGIN_SERVER_H
#define LOGIN_SERVER_H

struct settings;

/* Open the listen socket (cfg->fcgi_listen: host:port or a Unix socket
 * path), start the workers and serve until SIGTERM or SIGINT (which must be
 * blocked in the calling thread); then stop accepting, let in-flight
 * requests finish and free everything. curl_global_init() must have run.
 * Returns 0, or -1 when it could not start (logged). */
int server_run(const struct settings *cfg);

#endif
