/* fcgi_proto.h -- the FastCGI wire format (FastCGI Specification 1.0):
 * record headers, the body of BEGIN_REQUEST and END_REQUEST, and
 * name-value pairs. Pure functions over byte buffers, no I/O: fcgi_conn.c
 * does the reading and writing. */
#ifndef LOGIN_FCGI_PROTO_H
#define LOGIN_FCGI_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION 1
#define FCGI_HEADER_LEN 8
#define FCGI_CONTENT_MAX 65535
#define FCGI_PADDING_MAX 255
#define FCGI_RECORD_MAX (FCGI_HEADER_LEN + FCGI_CONTENT_MAX + FCGI_PADDING_MAX)

enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
    FCGI_UNKNOWN_TYPE = 11,
};

enum fcgi_protocol_status {
    FCGI_REQUEST_COMPLETE = 0,
    FCGI_CANT_MPX_CONN = 1,
    FCGI_OVERLOADED = 2,
    FCGI_UNKNOWN_ROLE = 3,
};

#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1 /* flag of BEGIN_REQUEST */

struct fcgi_header {
    unsigned version, type, request_id, content_length, padding_length;
};

/* Decode the 8 header bytes at p. */
void fcgi_header_decode(const unsigned char *p, struct fcgi_header *h);

/* Encode a header at p (FCGI_HEADER_LEN bytes); content_length at most
 * FCGI_CONTENT_MAX. */
void fcgi_header_encode(unsigned char *p, unsigned type, unsigned request_id,
                        size_t content_length, unsigned padding_length);

/* The role and flags of a BEGIN_REQUEST body. Returns 0, or -1 when the
 * body is not 8 bytes long. */
int fcgi_begin_decode(const unsigned char *body, size_t len, unsigned *role, unsigned *flags);

/* A whole END_REQUEST record (header and body, 16 bytes) at p. */
#define FCGI_END_RECORD_LEN 16
void fcgi_end_encode(unsigned char *p, unsigned request_id, uint32_t app_status,
                     enum fcgi_protocol_status status);

/* A whole UNKNOWN_TYPE record answering a management record of `type`. */
#define FCGI_UNKNOWN_RECORD_LEN 16
void fcgi_unknown_encode(unsigned char *p, unsigned type);

/* One name-value pair, borrowed from the buffer it was read from. */
struct fcgi_pair {
    const unsigned char *name, *value;
    size_t name_len, value_len;
};

/* Read the pair at *pos of buf[0..len) and advance *pos past it. Returns 1
 * with a pair, 0 at the end of buf, -1 when a length runs past the end. */
int fcgi_pair_next(const unsigned char *buf, size_t len, size_t *pos, struct fcgi_pair *pair);

/* Append the pair's encoding to out (cap bytes, *used of them used).
 * Returns 0, or -1 when it does not fit (out unchanged). */
int fcgi_pair_encode(unsigned char *out, size_t cap, size_t *used, const char *name,
                     const char *value);

#endif
