/* login.h -- the login side of the load generator: C concurrent keep-alive
 * HTTP/1.1 clients through nginx. Phase one asks the WeChat stand-in for
 * codes and user data (GET /standin/code?user=NAME), untimed; phase two logs
 * every code in with GET /login (X-WX-Code, X-WX-Encrypted-Data, X-WX-IV),
 * timed: logins per second and latency percentiles. */
#ifndef BENCH_LOGIN_H
#define BENCH_LOGIN_H

#include "proccpu.h"

#include <netinet/in.h>

struct login_opts {
    struct sockaddr_in addr;  /* nginx */
    const char *addr_text;    /* Host header and report */
    const char *user_prefix;  /* users are PREFIX-0 .. PREFIX-(count-1) */
    const char *sessions_out; /* if set: "id skey" of each login written here */
    const char *label;
    int clients;              /* concurrent connections */
    int count;                /* logins to prepare and run */
    double duration_s;        /* cap on the timed phase */
    double prepare_timeout_s; /* cap on the code phase */
    struct proc_groups cpu;   /* programs whose CPU per login is reported */
};

/* Run the login benchmark and print one JSON object on stdout. Returns 0
 * when it ran (the report says how many logins failed), -1 when it could
 * not (no code could be obtained). */
int login_run_main(const struct login_opts *o);

#endif
