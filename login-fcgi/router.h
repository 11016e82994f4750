/* router.h -- which handler answers a path and method, in which envelope.
 * Pure table look-up (unit-tested). */
#ifndef LOGIN_ROUTER_H
#define LOGIN_ROUTER_H

#include "reply.h"

struct request;
typedef void (*handler_fn)(struct request *r);

enum method_bit { METHOD_GET = 1, METHOD_POST = 2, METHOD_HEAD = 4, METHOD_OTHER = 8 };

struct route {
    const char *path;
    unsigned methods;      /* bitwise or of enum method_bit */
    const char *allow;     /* the same as text, for the Allow header */
    enum envelope envelope;
    handler_fn handler;
};

/* The route of exactly `path`, or NULL (404). */
const struct route *router_find(const char *path);

/* The method_bit of an HTTP method name (METHOD_OTHER when unknown). */
unsigned router_method_bit(const char *method);

#endif
