/* room_internal.h -- what room.c (the rooms, their members and joins) and
 * room_order.c (committed messages delivered in id order) share: the room
 * and its blocks of held messages. Private to those two files. */
#ifndef RELAY_ROOM_INTERNAL_H
#define RELAY_ROOM_INTERNAL_H

#include "room.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>

/* A committed message of ours, waiting for its turn to be delivered. */
struct held_msg {
    long long seq, uid, time_ms;
    bool image;
    char *nickname, *avatar_url, *content, *cid;
};

struct held {
    struct held *next;
    long long first, last;
    size_t n, cap;
    struct held_msg *msgs;
};

struct room {
    char name[65];
    long long id;
    bool initialized;
    long long delivered; /* every id <= delivered has been fanned out */
    long long target;    /* highest id known to be committed */
    bool fetching;
    long long posting; /* our messages in batches in flight (post.c) */
    struct conn *members;
    long long members_n, local_count;
    struct held *held;     /* committed rows of ours, by first id */
    struct held *building; /* rows of the batch being taken in */
    int busy; /* jobs in flight, posts queued, callers on the stack */
    struct room *hash_next, *next, *prev;
};

/* room.c: the room called name, or NULL. */
struct room *room_find(const char *name);

/* room.c: free r when nothing refers to it any more. */
void room_maybe_free(struct room *r);

/* room.c: members on this relay plus those that other relays announce. */
long long room_online(struct room *r);

/* room_order.c: release a block of held messages. */
void held_free(struct held *h);

/* room_order.c: deliver what is deliverable in order; fetch the first gap. */
void room_advance(struct room *r);

#endif
