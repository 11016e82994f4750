/* server.h -- the FastCGI worker pool: LOGIN_WORKERS threads, each with its
 * own FCGX_Request, database store and WeChat client, accepting on one
 * listen socket; and the graceful stop on SIGTERM/SIGINT. */
#ifndef LOGIN_SERVER_H
#define LOGIN_SERVER_H

struct settings;

/* Open the listen socket (cfg->fcgi_listen: host:port or a Unix socket
 * path), start the workers, wait for SIGTERM or SIGINT (which must be
 * blocked in the calling thread), then stop accepting, let in-flight
 * requests finish, join the workers and free everything. FCGX_Init() and
 * curl_global_init() must have run. Returns 0, or -1 when it could not
 * start (logged). */
int server_run(const struct settings *cfg);

#endif
