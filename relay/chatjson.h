/* chatjson.h -- the JSON text of every frame the relay sends (PROTOCOL.md
 * section 2), built with jansson. Each function returns a malloc'ed,
 * NUL-terminated compact encoding and its length in *len. */
#ifndef RELAY_CHATJSON_H
#define RELAY_CHATJSON_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* A chat message: type "user" or "remote", the online count `number`,
 * "history": true when replayed. */
char *chatjson_message(const struct store_row *row, const char *room, bool user, long long number,
                       bool history, size_t *len);

/* The same chat message for the other audience: json, an encoding by
 * chatjson_message, with its leading type changed to "user" (user) or
 * "remote"; every other byte is kept. NULL when json does not begin with
 * the other type. Encoding a message once per delivery instead of once per
 * audience halves the relay's JSON work (about a quarter of its CPU when
 * every message goes to a small room). */
char *chatjson_retype(const char *json, size_t len, bool user, size_t *out_len);

/* The first frame after open; recovered < 0 leaves the field out. */
char *chatjson_open(long long num, const char *room, long long seq, const char *epoch,
                    int recovered, size_t *len);

/* {"type":"system","num":N,"room":R,"event":"join"|"leave"} */
char *chatjson_event(long long num, const char *room, bool join, size_t *len);

/* {"type":"error","error":code,"message":msg,"cid":cid (when not NULL)} */
char *chatjson_error(const char *code, const char *msg, const char *cid, size_t *len);

/* {MAGIC:1,"error":"ERR_INVALID_SESSION","message":msg} */
char *chatjson_invalid_session(const char *msg, size_t *len);

#endif
