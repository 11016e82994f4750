/* room.c -- the bare broadcaster's rooms: members, numbering, and the one
 * encoding of each message shared by all members. See bare.h. */
#include "bare.h"

#include "frame.h"
#include "loop.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ROOM_NAME_MAX 64

struct bare_room {
    char name[ROOM_NAME_MAX + 1];
    long long seq;                    /* last number given */
    struct bare_client **members;
    size_t n, cap;
    struct bare_room *next;
};

static struct bare_room *rooms;

static struct bare_room *room_find_or_add(const char *name)
{
    for (struct bare_room *r = rooms; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    struct bare_room *r = xcalloc(1, sizeof(*r));
    strcpy(r->name, name);
    r->next = rooms;
    rooms = r;
    return r;
}

long long room_join(struct bare_client *c, const char *name)
{
    if (strlen(name) > ROOM_NAME_MAX)
        return -1;
    struct bare_room *r = room_find_or_add(name);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->members = xrealloc(r->members, r->cap * sizeof(*r->members));
    }
    c->room = r;
    c->slot = r->n;
    r->members[r->n++] = c;
    return r->seq;
}

void room_leave(struct bare_client *c)
{
    struct bare_room *r = c->room;
    if (!r)
        return;
    struct bare_client *last = r->members[--r->n];
    r->members[c->slot] = last;
    last->slot = c->slot;
    c->room = NULL;
}

char *room_system_message(const struct bare_client *c, long long seq)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:I}", "type", "system", "num",
                          (json_int_t)c->room->n, "room", c->room->name, "seq", (json_int_t)seq);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

/* The frame of one message as `type` ("user" for its sender, "remote"). */
static struct frame *message_frame(json_t *msg, const char *type)
{
    json_object_set_new(msg, "type", json_string(type));
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return NULL;
    struct frame *f = frame_text(text, strlen(text));
    free(text);
    return f;
}

void room_broadcast(struct bare_client *from, const char *payload, size_t len)
{
    struct bare_room *r = from->room;
    json_t *in = json_loadb(payload, len, 0, NULL);
    json_t *content = json_object_get(in, "content");
    if (!r || !json_is_string(content)) {
        json_decref(in);
        return;
    }
    long long id = ++r->seq;
    json_t *msg = json_pack("{s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:I, s:b, s:O}", "type", "",
                            "id", (json_int_t)id, "number", (json_int_t)id, "room", r->name,
                            "uid", (json_int_t)from->uid, "nickName", "", "avatarUrl", "",
                            "time", (json_int_t)loop_wall_ms(), "text", 1, "content", content);
    struct frame *own = msg ? message_frame(msg, "user") : NULL;
    struct frame *remote = msg ? message_frame(msg, "remote") : NULL;
    if (own && remote) {
        for (size_t i = 0; i < r->n; i++) {
            const struct frame *f = r->members[i] == from ? own : remote;
            client_queue(r->members[i], f->data, f->len);
        }
    }
    frame_unref(own);
    frame_unref(remote);
    json_decref(msg);
    json_decref(in);
}

void room_free_all(void)
{
    while (rooms) {
        struct bare_room *next = rooms->next;
        free(rooms->members);
        free(rooms);
        rooms = next;
    }
}
