/* chatscan.h -- classify a text frame the relay sent and pull out the few
 * fields the load generator measures. Chat frames carrying the benchmark's
 * own content ("t=<ns> s=<sender> k=<n>") take a bounded scan with no
 * allocation, because there can be millions of them per second; every other
 * frame (system, error, session errors) is rare and goes through jansson. */
#ifndef BENCH_CHATSCAN_H
#define BENCH_CHATSCAN_H

#include <stdbool.h>
#include <stddef.h>

enum frame_kind {
    FRAME_CHAT,            /* live chat message with benchmark content */
    FRAME_HISTORY,         /* replayed message ("history":true) */
    FRAME_PRESENCE,        /* system frame with "event" (join/leave) */
    FRAME_SYSTEM,          /* the system frame sent on open */
    FRAME_ERROR,           /* {"type":"error",...} */
    FRAME_INVALID_SESSION, /* the MAGIC ERR_INVALID_SESSION frame */
    FRAME_OTHER,           /* valid JSON of another shape (e.g. foreign chat) */
    FRAME_BAD,             /* not JSON, or a chat frame whose fields do not parse */
};

struct chat_frame {
    enum frame_kind kind;
    long long id;     /* CHAT/HISTORY: the room sequence number */
    long long t_ns;   /* CHAT: send time stamp from the content */
    long long sender; /* CHAT: sender index from the content */
    long long k;      /* CHAT: sender's message counter from the content */
    bool own;         /* CHAT: "type":"user" (the sender's own echo) */
    long long seq;    /* SYSTEM: the room's last id at open (-1 if absent) */
    char error[32];   /* ERROR: the error code, truncated */
};

/* Classify the text frame buf[0..len) into *f. Never reads outside the
 * buffer, never allocates for chat frames. */
void chat_frame_scan(const char *buf, size_t len, struct chat_frame *f);

/* Write the benchmark content for (t_ns, sender, k) as a client message
 * {"text":true,"content":"t=.. s=.. k=.."} into out. Returns its length,
 * or 0 if it does not fit in cap. */
size_t chat_message_format(char *out, size_t cap, long long t_ns, long long sender, long long k);

#endif
