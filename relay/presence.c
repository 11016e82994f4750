/* presence.c -- cross-relay online counts over NOTIFY chat_presence. */
#include "presence.h"
#include "crypto.h"
#include "json_util.h"
#include "log.h"
#include "loop.h"
#include "msg.h"
#include "room.h"
#include "settings.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PRESENCE_MAX_ENTRIES 100000
#define PRESENCE_RELAY_MAX 64

struct entry {
    struct entry *next;
    char room[65];
    char relay[PRESENCE_RELAY_MAX + 1];
    long long count, heard_ms;
};

struct announce {
    struct announce *next;
    char room[65];
    long long count;
};

static struct {
    char relay[33];
    struct entry *entries;
    size_t nentries;
    struct announce *queue;
    bool hello;
} ps;

int presence_init(void)
{
    if (crypto_random_hex(ps.relay, 16) < 0) {
        log_error("presence: no random relay id");
        return -1;
    }
    log_info("presence: relay id %s", ps.relay);
    return 0;
}

void presence_free(void)
{
    while (ps.entries) {
        struct entry *e = ps.entries;
        ps.entries = e->next;
        free(e);
    }
    while (ps.queue) {
        struct announce *a = ps.queue;
        ps.queue = a->next;
        free(a);
    }
    ps.nentries = 0;
}

long long presence_remote(const char *room)
{
    long long sum = 0;
    for (struct entry *e = ps.entries; e; e = e->next)
        if (strcmp(e->room, room) == 0)
            sum += e->count;
    return sum;
}

void presence_local(const char *room, long long count)
{
    for (struct announce *a = ps.queue; a; a = a->next)
        if (strcmp(a->room, room) == 0) {
            a->count = count;
            return;
        }
    struct announce *a = xcalloc(1, sizeof(*a));
    snprintf(a->room, sizeof(a->room), "%s", room);
    a->count = count;
    a->next = ps.queue;
    ps.queue = a;
}

static char *payload(const char *room, long long count, bool hello)
{
    json_t *o = json_object();
    json_object_set_new(o, "relay", json_string(ps.relay));
    if (hello) {
        json_object_set_new(o, "hello", json_true());
    } else {
        json_object_set_new(o, "room", json_string(room));
        json_object_set_new(o, "count", json_integer(count));
    }
    char *text = json_encode(o, NULL);
    json_decref(o);
    return text;
}

void presence_flush(void)
{
    size_t n = ps.hello ? 1 : 0;
    for (struct announce *a = ps.queue; a; a = a->next)
        n++;
    if (n == 0)
        return;
    char **items = xcalloc(n, sizeof(*items));
    size_t i = 0;
    if (ps.hello)
        items[i++] = payload(NULL, 0, true);
    while (ps.queue) {
        struct announce *a = ps.queue;
        ps.queue = a->next;
        items[i++] = payload(a->room, a->count, false);
        free(a);
    }
    ps.hello = false;
    if (store_up())
        store_notify("chat_presence", (const char *const *)items, n);
    for (i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

static void announce_one(const char *name, long long count)
{
    presence_local(name, count);
}

/* Set relay's count for room (0 removes it) and report the change. */
static void presence_set(const char *relay, const char *room, long long count)
{
    long long before = presence_remote(room);
    struct entry **pp = &ps.entries, *e = NULL;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->room, room) == 0 && strcmp((*pp)->relay, relay) == 0) {
            e = *pp;
            break;
        }
    if (count <= 0 && e) {
        *pp = e->next;
        free(e);
        ps.nentries--;
    } else if (count > 0) {
        if (!e) {
            if (ps.nentries >= PRESENCE_MAX_ENTRIES)
                return;
            e = xcalloc(1, sizeof(*e));
            snprintf(e->room, sizeof(e->room), "%s", room);
            snprintf(e->relay, sizeof(e->relay), "%s", relay);
            e->next = ps.entries;
            ps.entries = e;
            ps.nentries++;
        }
        e->count = count;
        e->heard_ms = loop_now_ms();
    }
    long long after = presence_remote(room);
    if (after != before)
        room_remote_changed(room, before, after);
}

void presence_on_notify(const char *text)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    const char *relay = json_string_field(o, "relay", PRESENCE_RELAY_MAX);
    const char *room = json_string_field(o, "room", 64);
    json_t *count = json_object_get(o, "count");
    if (!relay) {
        log_warn("presence: bad payload");
    } else if (strcmp(relay, ps.relay) == 0) {
        /* our own announcement */
    } else if (json_is_true(json_object_get(o, "hello"))) {
        room_foreach_local(announce_one);
    } else if (room && msg_room_valid(room) && json_is_integer(count)) {
        presence_set(relay, room, json_integer_value(count));
    } else {
        log_warn("presence: bad payload from relay %s", relay);
    }
    json_decref(o);
}

void presence_tick(void)
{
    room_foreach_local(announce_one);
    long long now = loop_now_ms(), stale = 3 * cfg.ping_interval_ms;
    for (;;) {
        struct entry *e = ps.entries;
        while (e && now - e->heard_ms <= stale)
            e = e->next;
        if (!e)
            break;
        char relay[sizeof(e->relay)], room[sizeof(e->room)];
        memcpy(relay, e->relay, sizeof(relay));
        memcpy(room, e->room, sizeof(room));
        log_info("presence: relay %s silent, dropping its count for room=%s", relay, room);
        presence_set(relay, room, 0);
    }
}

void presence_hello(void)
{
    ps.hello = true;
    room_foreach_local(announce_one);
}

void presence_goodbye(void)
{
    room_foreach_local(announce_one);
    for (struct announce *a = ps.queue; a; a = a->next)
        a->count = 0;
    presence_flush();
}
