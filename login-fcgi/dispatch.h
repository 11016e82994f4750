/* dispatch.h -- one accepted FastCGI request from route to answer: 404 and
 * 405 for unknown paths and methods, the handler otherwise, a 500 if a
 * handler answered nothing, the rest of the body drained, one access-log
 * line. */
#ifndef LOGIN_DISPATCH_H
#define LOGIN_DISPATCH_H

#include <fcgiapp.h>

struct worker;

/* Answer the request `fcgi` (accepted by worker w). When the body could not
 * be consumed the connection is marked not to be kept alive. */
void dispatch_request(struct worker *w, FCGX_Request *fcgi);

#endif
