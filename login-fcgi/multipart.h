/* multipart.h -- an incremental multipart/form-data parser (RFC 7578 over
 * RFC 2046), fed the request body in chunks of any size as they are read.
 *
 * The parser is a pure state machine: it allocates nothing, does no I/O and
 * holds at most one part's header block (MULTIPART_HEADER_MAX bytes) plus a
 * few counters, whatever the size of the body. Part contents are handed to
 * callbacks as they arrive; a chunk boundary may fall anywhere, including
 * inside a delimiter, and the callbacks see the same bytes either way.
 *
 * Grammar accepted (RFC 2046 section 5.1.1): an optional preamble, then
 * "--boundary" at the start of the body or after CRLF, optional spaces or
 * tabs, CRLF, the part's headers, an empty line, its content; each next part
 * after CRLF "--boundary" and the same; the close delimiter CRLF
 * "--boundary--"; anything after it (the epilogue) is ignored. Header lines
 * end with CRLF; folded lines are joined. A delimiter followed by anything
 * but "--", padding or CRLF is an error: a boundary must never occur in the
 * content, and a body that contains it is malformed. */
#ifndef LOGIN_MULTIPART_H
#define LOGIN_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#define MULTIPART_BOUNDARY_MAX 70   /* RFC 2046: 1..70 characters */
#define MULTIPART_HEADER_MAX 8192   /* bytes of one part's header block */
#define MULTIPART_NAME_MAX 64       /* longest form field name we keep */
#define MULTIPART_PARTS_MAX 64      /* parts in one body */

/* What the headers of one part said. Strings are NUL-terminated. */
struct multipart_part {
    char name[MULTIPART_NAME_MAX + 1]; /* name="..." of Content-Disposition ("" if none) */
    bool name_too_long;                /* the name did not fit (so it is none we know) */
    bool has_filename;                 /* a filename parameter was present */
    bool is_form_data;                 /* Content-Disposition: form-data */
};

/* Callbacks; each returns 0 to go on, or non-zero to stop the parser, which
 * then answers MULTIPART_STOPPED and must not be fed again. Any may be NULL. */
struct multipart_callbacks {
    int (*part_begin)(void *ctx, const struct multipart_part *part); /* headers done */
    int (*part_data)(void *ctx, const char *data, size_t len);      /* len > 0 */
    int (*part_end)(void *ctx);                                      /* content done */
};

enum multipart_result {
    MULTIPART_MORE = 0, /* all bytes consumed; feed more (or end: truncated) */
    MULTIPART_DONE,     /* the close delimiter was seen; the rest is epilogue */
    MULTIPART_ERROR,    /* malformed body: reason in parser->error */
    MULTIPART_STOPPED   /* a callback asked to stop */
};

enum multipart_state {
    MP_PREAMBLE,     /* looking for the first delimiter */
    MP_AFTER_DELIM,  /* just after "--boundary": "--", padding or CRLF */
    MP_CLOSE_DASH,   /* saw one '-' after the delimiter */
    MP_PADDING,      /* spaces/tabs after the delimiter */
    MP_DELIM_LF,     /* CR after the delimiter line, expecting LF */
    MP_HEADERS,      /* collecting the header block */
    MP_BODY,         /* part content */
    MP_EPILOGUE,     /* after the close delimiter */
    MP_FAILED        /* error or stopped: feeding again is refused */
};

/* The parser's whole state; the caller owns it (a local variable is fine).
 * Fields are private to multipart.c except `error`. */
struct multipart_parser {
    enum multipart_state state;
    char delim[MULTIPART_BOUNDARY_MAX + 5]; /* CR LF "--" boundary */
    size_t delim_len;
    size_t match;         /* bytes of delim matched and held back */
    char header[MULTIPART_HEADER_MAX];
    size_t header_len;
    unsigned parts;
    const struct multipart_callbacks *cb;
    void *ctx;
    char error[128];      /* why MULTIPART_ERROR was returned */
};

/* Extract the boundary from a Content-Type value such as
 * `multipart/form-data; boundary="--abc"` (type and parameter names are
 * case-insensitive; the value may be a token or a quoted string). Writes it
 * NUL-terminated into out[MULTIPART_BOUNDARY_MAX + 1]. Returns 0, or -1 with
 * a reason a client may see in err: not multipart/form-data, no boundary, or
 * a boundary that is empty, longer than 70, or has CR, LF or NUL. */
int multipart_boundary(const char *content_type, char *out, size_t outlen, char *err,
                       size_t errlen);

/* Prepare `p` for a body delimited by `boundary` (as multipart_boundary()
 * returns it). `cb` and `ctx` are borrowed for the parser's life. Returns 0,
 * or -1 if the boundary is empty or too long. */
int multipart_init(struct multipart_parser *p, const char *boundary,
                   const struct multipart_callbacks *cb, void *ctx);

/* Consume `len` bytes of the body. Returns MULTIPART_MORE when all of them
 * were consumed and more are expected, MULTIPART_DONE once the close
 * delimiter has been seen (further feeds are ignored epilogue), or
 * MULTIPART_ERROR / MULTIPART_STOPPED (the parser is then dead). */
enum multipart_result multipart_feed(struct multipart_parser *p, const char *data, size_t len);

/* True once the close delimiter has been seen: a body that ends while this
 * is false was truncated. */
bool multipart_complete(const struct multipart_parser *p);

#endif
