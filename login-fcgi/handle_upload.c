/* handle_upload.c -- POST /upload and /weapp/upload: check the session, then
 * hand the body to upload_receive() (upload.h) and map its status. */
#include "handlers.h"

#include "auth.h"
#include "log.h"
#include "request.h"
#include "settings.h"
#include "upload.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

/* upload_read_fn over the request body. */
static long read_body(void *ctx, char *buf, size_t len)
{
    return request_read(ctx, buf, len);
}

static void upload_ok(struct request *r, const struct upload_result *res)
{
    json_t *data = json_pack("{s:s, s:I, s:s}", "imgUrl", res->url, "size", (json_int_t)res->size,
                             "mimeType", res->mime);
    json_t *body;
    if (r->envelope == ENVELOPE_WAFER2)
        body = json_pack("{s:i, s:o}", "code", 0, "data", data);
    else
        body = json_pack("{s:i, s:s, s:o}", "code", 0, "url", res->url, "data", data);
    request_reply(r, 200, body);
}

void handle_upload(struct request *r)
{
    struct store_session s;
    struct store_user *u = xmalloc(sizeof(*u));
    struct upload_result *res = xcalloc(1, sizeof(*res));
    if (auth_check(r, false, &s, u) != AUTH_OK)
        goto done;
    const struct upload_config cfg = {.dir = r->cfg->upload_dir,
                                      .base_url = r->cfg->files_base_url,
                                      .max_bytes = r->cfg->upload_max_bytes};
    char err[256] = "";
    enum upload_status st = upload_receive(&cfg, r->content_type, r->content_length, read_body, r,
                                           res, err, sizeof(err));
    if (!err[0])
        snprintf(err, sizeof(err), "the upload failed");
    switch (st) {
    case UPLOAD_OK:
        request_note(r, "upload by uid %lld: %s (%lld bytes)", u->uid, res->name, res->size);
        upload_ok(r, res);
        break;
    case UPLOAD_BAD_REQUEST:
        request_fail(r, 400, "ERR_BAD_REQUEST", "%s", err);
        break;
    case UPLOAD_TOO_LARGE:
        request_fail(r, 413, "ERR_TOO_LARGE", "%s", err);
        break;
    case UPLOAD_UNSUPPORTED_TYPE:
        request_fail(r, 415, "ERR_UNSUPPORTED_TYPE", "%s", err);
        break;
    default:
        log_error("%s upload failed: %s", r->tag, err);
        request_fail(r, 500, "ERR_INTERNAL", "%s", err);
        break;
    }
done:
    free(res);
    free(u);
}
