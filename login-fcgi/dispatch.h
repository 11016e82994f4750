/* dispatch.h -- one accepted FastCGI request from route to answer: 404 and
 * 405 for unknown paths and methods, the handler otherwise, a 500 if a
 * handler answered nothing, the rest of the body drained, one access-log
 * line. */
#ifndef LOGIN_DISPATCH_H
#define LOGIN_DISPATCH_H

struct fcgi_conn;
struct worker;

/* Answer the request open on fcgi (served by worker w), reading what is
 * left of its body. fcgi_conn_finish() sends the answer. */
void dispatch_request(struct worker *w, struct fcgi_conn *fcgi);

#endif
