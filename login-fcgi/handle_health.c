/* handle_health.c -- GET /healthz: 200 when the database answers. */
#include "handlers.h"

#include "request.h"
#include "store.h"

void handle_health(struct request *r)
{
    if (store_ping(r->w->store) == STORE_OK)
        request_reply(r, 200, json_pack("{s:b}", "ok", 1));
    else
        request_reply(r, 503, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "ERR_UNAVAILABLE",
                                        "message", "the database is unavailable"));
}
