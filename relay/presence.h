/* presence.h -- online counts across relays via NOTIFY chat_presence:
 * {"relay":"<id>","room":R,"count":N} announced on change and every ping
 * interval; {"relay":"<id>","hello":true} asks everyone to announce. Counts
 * of a relay not heard from for 3 intervals are dropped. */
#ifndef RELAY_PRESENCE_H
#define RELAY_PRESENCE_H

/* Pick this relay's random id. Returns 0 or -1 (CSPRNG failure). */
int presence_init(void);
void presence_free(void);

/* Sum of other relays' counts for room. */
long long presence_remote(const char *room);

/* This relay's count for room changed: announce it this turn. */
void presence_local(const char *room, long long count);

/* Send the announcements queued this turn. */
void presence_flush(void);

/* A chat_presence notification. */
void presence_on_notify(const char *payload);

/* Periodic: announce every local room, drop silent relays. */
void presence_tick(void);

/* Ask other relays to announce (after our LISTEN connection came up). */
void presence_hello(void);

/* Announce zero for every local room (shutdown). */
void presence_goodbye(void);

#endif
