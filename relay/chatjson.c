/* chatjson.c -- encoding of the frames sent to clients. */
#include "chatjson.h"
#include "json_util.h"
#include "util.h"

#include <string.h>

#define MAGIC "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A"

/* Encode and release obj. */
static char *finish(json_t *obj, size_t *len)
{
    char *text = json_encode(obj, len);
    json_decref(obj);
    return text;
}

char *chatjson_message(const struct store_row *row, const char *room, bool user, long long number,
                       bool history, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(user ? "user" : "remote"));
    json_object_set_new(o, "id", json_integer(row->seq));
    json_object_set_new(o, "number", json_integer(number));
    json_object_set_new(o, "room", json_string(room));
    json_object_set_new(o, "uid", row->user_id ? json_integer(row->user_id) : json_null());
    json_object_set_new(o, "nickName", json_string(row->nickname));
    json_object_set_new(o, "avatarUrl", json_string(row->avatar_url));
    json_object_set_new(o, "time", json_integer(row->time_ms));
    json_object_set_new(o, row->image ? "gallery" : "text", json_true());
    json_object_set_new(o, row->image ? "url" : "content", json_string(row->content));
    if (row->cid)
        json_object_set_new(o, "cid", json_string(row->cid));
    if (history)
        json_object_set_new(o, "history", json_true());
    return finish(o, len);
}

/* How chatjson_message's encoding begins for each audience. */
static const char TYPE_USER[] = "{\"type\":\"user\"";
static const char TYPE_REMOTE[] = "{\"type\":\"remote\"";

char *chatjson_retype(const char *json, size_t len, bool user, size_t *out_len)
{
    const char *from = user ? TYPE_REMOTE : TYPE_USER, *to = user ? TYPE_USER : TYPE_REMOTE;
    size_t flen = strlen(from), tlen = strlen(to);
    if (len < flen || memcmp(json, from, flen) != 0)
        return NULL;
    char *out = xmalloc(len - flen + tlen + 1);
    memcpy(out, to, tlen);
    memcpy(out + tlen, json + flen, len - flen);
    *out_len = len - flen + tlen;
    out[*out_len] = '\0';
    return out;
}

char *chatjson_open(long long num, const char *room, long long seq, const char *epoch,
                    int recovered, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("system"));
    json_object_set_new(o, "num", json_integer(num));
    json_object_set_new(o, "room", json_string(room));
    json_object_set_new(o, "seq", json_integer(seq));
    json_object_set_new(o, "epoch", json_string(epoch));
    if (recovered >= 0)
        json_object_set_new(o, "recovered", json_boolean(recovered));
    return finish(o, len);
}

char *chatjson_event(long long num, const char *room, bool join, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("system"));
    json_object_set_new(o, "num", json_integer(num));
    json_object_set_new(o, "room", json_string(room));
    json_object_set_new(o, "event", json_string(join ? "join" : "leave"));
    return finish(o, len);
}

char *chatjson_error(const char *code, const char *msg, const char *cid, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("error"));
    json_object_set_new(o, "error", json_string(code));
    json_object_set_new(o, "message", json_string(msg));
    if (cid)
        json_object_set_new(o, "cid", json_string(cid));
    return finish(o, len);
}

char *chatjson_invalid_session(const char *msg, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, MAGIC, json_integer(1));
    json_object_set_new(o, "error", json_string("ERR_INVALID_SESSION"));
    json_object_set_new(o, "message", json_string(msg));
    return finish(o, len);
}
