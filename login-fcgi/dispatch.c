/* dispatch.c -- routing one request and finishing it cleanly. */
#include "dispatch.h"

#include "log.h"
#include "request.h"
#include "router.h"
#include "settings.h"

#include <time.h>

/* How much unread body we read and discard to keep the connection usable. */
static long long drain_limit(const struct request *r)
{
    return r->cfg->upload_max_bytes + 1024 * 1024;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A copy of text safe for one log line: non-printable bytes become '?'. */
static void printable(const char *text, char *out, size_t cap)
{
    size_t i = 0;
    for (; text[i] && i + 1 < cap; i++)
        out[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    out[i] = '\0';
}

static void route_request(struct request *r)
{
    const struct route *route = router_find(r->path);
    if (!route) {
        r->envelope = ENVELOPE_ANY;
        request_fail(r, 404, "ERR_NOT_FOUND", "no such endpoint: %.200s", r->path);
        return;
    }
    r->envelope = route->envelope;
    r->allow = route->allow;
    if (!(route->methods & router_method_bit(r->method))) {
        r->envelope = ENVELOPE_ANY;
        request_fail(r, 405, "ERR_METHOD_NOT_ALLOWED", "%.16s is not allowed on %s (use %s)",
                     r->method, route->path, route->allow);
        return;
    }
    route->handler(r);
}

void dispatch_request(struct worker *w, struct fcgi_conn *fcgi)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct request r;
    request_init(&r, fcgi, w);
    route_request(&r);
    if (!r.status) {
        log_error("%s the handler answered nothing", r.tag);
        request_fail(&r, 500, "ERR_INTERNAL", "internal error");
    }
    request_drain(&r, drain_limit(&r)); /* if not to its end, the connection is not kept */
    char method[17], path[201], note[sizeof(r.note)];
    printable(r.method, method, sizeof(method));
    printable(r.path, path, sizeof(path));
    printable(r.note, note, sizeof(note));
    log_info("%s %s %s %d %ldms%s%s", r.tag, method, path, r.status, elapsed_ms(&t0),
             note[0] ? ": " : "", note);
}
