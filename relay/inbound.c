/* inbound.c -- checks and queueing of client messages. */
#include "inbound.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "room.h"
#include "settings.h"
#include "store.h"
#include "utf8.h"

#include <stdlib.h>

void inbound_message(struct conn *c, bool is_text, const char *data, size_t len)
{
    metrics.messages_in++;
    if (is_text && !utf8_valid((const uint8_t *)data, len)) {
        conn_close(c, 1007, "invalid UTF-8");
        if (c->ws)
            wslay_event_shutdown_read(c->ws);
        return;
    }
    if (!is_text) {
        conn_close(c, 1002, "binary messages are not accepted");
        if (c->ws)
            wslay_event_shutdown_read(c->ws);
        return;
    }
    if (loop_wall_ms() >= c->expires_ms) {
        conn_reject_session(c, "session expired");
        return;
    }
    struct msg_rules rules = {(size_t)cfg.max_content, (const char *const *)cfg.url_prefixes};
    json_t *root = NULL;
    struct msg_input in;
    char *bad_cid = NULL, why[256];
    int valid = msg_parse(data, len, &rules, &root, &in, &bad_cid, why, sizeof(why));
    const char *cid = valid == 0 ? in.cid : bad_cid;
    long long now = loop_now_ms();
    if (!rate_take(&c->rate, (double)cfg.rate, (double)cfg.rate_burst, now)) {
        if (rate_refusals(&c->rate) > cfg.abuse_limit) {
            log_warn("conn=%llu peer=%s uid=%lld closing: sustained flooding", c->id, c->peer,
                     c->uid);
            conn_close(c, 1008, "too many messages");
        } else {
            conn_send_error(c, "ERR_RATE_LIMITED", "too many messages: slow down", cid);
        }
    } else if (valid < 0) {
        conn_send_error(c, "ERR_BAD_MESSAGE", why, cid);
    } else if (!store_up() || room_post(c, &in) < 0) {
        conn_send_error(c, "ERR_UNAVAILABLE", "message not saved: database unavailable", cid);
    }
    json_decref(root);
    free(bad_cid);
}
