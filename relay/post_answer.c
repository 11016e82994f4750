/* post_answer.c -- chat_post_batch_compact's short answer expanded into one
 * row per message (post_answer.h). Rooms and senders are sorted once and
 * found by binary search: a batch has up to a few thousand messages, in up
 * to as many rooms. */
#include "post_answer.h"

#include <stdlib.h>

static int by_room_id(const void *a, const void *b)
{
    long long x = ((const struct post_answer_room *)a)->room_id;
    long long y = ((const struct post_answer_room *)b)->room_id;
    return (x > y) - (x < y);
}

static int by_user_id(const void *a, const void *b)
{
    long long x = ((const struct post_answer_sender *)a)->user_id;
    long long y = ((const struct post_answer_sender *)b)->user_id;
    return (x > y) - (x < y);
}

/* qsort and bsearch, which may not be given a NULL array even when empty. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 0)
        qsort(base, n, size, cmp);
}

static void *find(const void *key, void *base, size_t n, size_t size,
                  int (*cmp)(const void *, const void *))
{
    return n > 0 ? bsearch(key, base, n, size, cmp) : NULL;
}

int post_answer_expand(const struct post_answer_msg *msgs, size_t n, struct post_answer_room *rooms,
                       size_t nrooms, struct post_answer_sender *senders, size_t nsenders,
                       long long time_ms, struct store_row *rows)
{
    sort(rooms, nrooms, sizeof(*rooms), by_room_id);
    sort(senders, nsenders, sizeof(*senders), by_user_id);
    for (size_t i = 1; i < nrooms; i++)
        if (rooms[i].room_id == rooms[i - 1].room_id)
            return -1;
    for (size_t i = 0; i < n; i++) {
        struct post_answer_room rkey = {.room_id = msgs[i].room_id};
        struct post_answer_room *room = find(&rkey, rooms, nrooms, sizeof(*rooms), by_room_id);
        if (!room)
            return -1;
        struct post_answer_sender skey = {.user_id = msgs[i].user_id};
        const struct post_answer_sender *s =
            find(&skey, senders, nsenders, sizeof(*senders), by_user_id);
        rows[i] = (struct store_row){
            .idx = (int)(i + 1),
            .seq = room->next_seq++,
            .user_id = msgs[i].user_id,
            .nickname = s && s->nickname ? s->nickname : "",
            .avatar_url = s && s->avatar_url ? s->avatar_url : "",
            .image = msgs[i].image,
            .time_ms = time_ms,
        };
    }
    return 0;
}
