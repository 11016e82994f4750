/* multipart.c -- the incremental multipart/form-data parser: a byte-level
 * state machine that finds delimiters across chunk boundaries without
 * buffering content (see multipart.h for the grammar). */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PARAM_VALUE_MAX 256

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static void set_error(struct multipart_parser *p, const char *msg)
{
    snprintf(p->error, sizeof p->error, "%s", msg);
    p->state = MP_FAILED;
}

/* Copy at most cap-1 bytes of src[0..n) into dst; returns false if cut. */
static bool copy_bounded(char *dst, size_t cap, const char *src, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return k == n;
}

/* Parse the next `; name=value` parameter of a header value at *s, moving
 * *s past it. The name is lower-cased into name[namecap]; a quoted value is
 * unquoted (backslash escapes a quote or a backslash). *cut is set when the
 * value did not fit. Returns 1 for a parameter, 0 at the end, -1 if malformed. */
static int next_param(const char **s, char *name, size_t namecap, char *value, size_t valcap,
                      bool *cut)
{
    const char *q = *s;
    while (is_ows(*q) || *q == ';') q++;
    if (*q == '\0') return 0;
    const char *n0 = q;
    while (*q && *q != '=' && *q != ';' && !is_ows(*q)) q++;
    size_t nlen = (size_t)(q - n0);
    if (nlen == 0) return -1;
    copy_bounded(name, namecap, n0, nlen);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    while (is_ows(*q)) q++;
    size_t vlen = 0;
    *cut = false;
    value[0] = '\0';
    if (*q == '=') {
        q++;
        while (is_ows(*q)) q++;
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++) {
                if (*q == '\\' && (q[1] == '"' || q[1] == '\\')) q++;
                if (vlen + 1 < valcap) value[vlen++] = *q;
                else *cut = true;
            }
            if (*q != '"') return -1;
            q++;
        } else {
            const char *v0 = q;
            while (*q && *q != ';' && !is_ows(*q)) q++;
            *cut = !copy_bounded(value, valcap, v0, (size_t)(q - v0));
            vlen = strlen(value);
        }
        value[vlen] = '\0';
    }
    *s = q;
    return 1;
}

/* True if the media type at the start of s is `type` (case-insensitive),
 * followed by the end, a parameter or whitespace; *rest points after it. */
static bool media_type_is(const char *s, const char *type, const char **rest)
{
    while (is_ows(*s)) s++;
    size_t n = strlen(type);
    if (strncasecmp(s, type, n) != 0) return false;
    s += n;
    if (*s != '\0' && *s != ';' && !is_ows(*s)) return false;
    *rest = s;
    return true;
}

int multipart_boundary(const char *content_type, char *out, size_t outlen, char *err,
                       size_t errlen)
{
    const char *s;
    if (!content_type || !media_type_is(content_type, "multipart/form-data", &s)) {
        snprintf(err, errlen, "the body must be multipart/form-data");
        return -1;
    }
    char name[32], value[PARAM_VALUE_MAX];
    bool cut;
    int rc;
    while ((rc = next_param(&s, name, sizeof name, value, sizeof value, &cut)) == 1) {
        if (strcmp(name, "boundary") != 0) continue;
        size_t len = strlen(value);
        bool ok = !cut && len >= 1 && len <= MULTIPART_BOUNDARY_MAX && len < outlen;
        for (size_t i = 0; ok && i < len; i++)
            ok = value[i] >= 0x20 && value[i] <= 0x7e;
        if (!ok) {
            snprintf(err, errlen, "the multipart boundary must be 1 to 70 printable characters");
            return -1;
        }
        memcpy(out, value, len + 1);
        return 0;
    }
    snprintf(err, errlen, rc < 0 ? "malformed Content-Type parameters"
                                 : "the Content-Type has no multipart boundary");
    return -1;
}

int multipart_init(struct multipart_parser *p, const char *boundary,
                   const struct multipart_callbacks *cb, void *ctx)
{
    size_t len = strlen(boundary);
    memset(p, 0, sizeof *p);
    if (len == 0 || len > MULTIPART_BOUNDARY_MAX) return -1;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, len);
    p->delim_len = len + 4;
    p->state = MP_PREAMBLE;
    p->match = 2; /* the body's start counts as a line start: "--boundary" there is a delimiter */
    p->cb = cb;
    p->ctx = ctx;
    return 0;
}

bool multipart_complete(const struct multipart_parser *p) { return p->state == MP_EPILOGUE; }

/* Hand content bytes to part_data (nothing in the preamble). */
static int emit(struct multipart_parser *p, const char *data, size_t len)
{
    if (p->state != MP_BODY || len == 0 || !p->cb || !p->cb->part_data) return 0;
    return p->cb->part_data(p->ctx, data, len);
}

/* Scan d[*pos..len) for the delimiter, emitting content (in MP_BODY) and
 * holding back bytes that may begin a delimiter. Returns 1 when the
 * delimiter was completed (*pos just past it), 0 when the data ran out, -1
 * when a callback stopped. Correct because CR occurs in the delimiter only
 * at its start (boundaries have no CR), so after a mismatch no held-back
 * byte can begin a new match. */
static int scan_delim(struct multipart_parser *p, const char *d, size_t len, size_t *pos)
{
    size_t i = *pos;
    int rc = 0;
    while (i < len) {
        if (p->match == 0) {
            const char *cr = memchr(d + i, '\r', len - i);
            size_t run = cr ? (size_t)(cr - (d + i)) : len - i;
            if (emit(p, d + i, run)) { rc = -1; break; }
            i += run;
            if (!cr) break;
            p->match = 1;
            i++;
        } else if (d[i] == p->delim[p->match]) {
            i++;
            if (++p->match == p->delim_len) {
                p->match = 0;
                rc = 1;
                break;
            }
        } else {
            size_t held = p->match;
            p->match = 0; /* d[i] is examined again from a clean start */
            if (emit(p, p->delim, held)) { rc = -1; break; }
        }
    }
    *pos = i;
    return rc;
}

/* Join folded header lines (CRLF followed by a space or tab) in place. */
static void unfold(char *h, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (h[i] == '\r' && h[i + 1] == '\n' && is_ows(h[i + 2])) h[i] = h[i + 1] = ' ';
}

/* Read a Content-Disposition value into part. Returns 0 or -1 if malformed. */
static int parse_disposition(const char *v, struct multipart_part *part)
{
    const char *rest;
    part->is_form_data = media_type_is(v, "form-data", &rest);
    if (!part->is_form_data) return 0; /* some other disposition: not a form field */
    char name[16], value[PARAM_VALUE_MAX];
    bool cut;
    int rc;
    while ((rc = next_param(&rest, name, sizeof name, value, sizeof value, &cut)) == 1) {
        if (strcmp(name, "name") == 0) {
            part->name_too_long = cut || strlen(value) > MULTIPART_NAME_MAX;
            copy_bounded(part->name, sizeof part->name, value, strlen(value));
        } else if (strcmp(name, "filename") == 0 || strcmp(name, "filename*") == 0) {
            part->has_filename = true;
        }
    }
    return rc;
}

/* Parse the collected header block (ending in an empty line) into part. */
static int parse_headers(struct multipart_parser *p, struct multipart_part *part)
{
    memset(part, 0, sizeof *part);
    if (memchr(p->header, '\0', p->header_len)) return set_error(p, "NUL byte in part headers"), -1;
    p->header[p->header_len - 2] = '\0'; /* drop the final empty line's CRLF */
    unfold(p->header, p->header_len - 2);
    bool seen = false;
    char *line = p->header;
    while (*line) {
        char *end = strstr(line, "\r\n");
        if (end) *end = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line) return set_error(p, "malformed part header line"), -1;
        *colon = '\0';
        if (strcasecmp(line, "content-disposition") == 0) {
            if (seen) return set_error(p, "repeated Content-Disposition in a part"), -1;
            seen = true;
            if (parse_disposition(colon + 1, part) < 0)
                return set_error(p, "malformed Content-Disposition"), -1;
        }
        line = end ? end + 2 : line + strlen(line);
    }
    return 0;
}

/* Take one header byte; at the empty line that ends the block, parse it and
 * enter the content. Returns 0, or -1 (error or stopped: state says which). */
static int header_byte(struct multipart_parser *p, char c)
{
    if (p->header_len >= sizeof p->header - 1) return set_error(p, "part headers too long"), -1;
    p->header[p->header_len++] = c;
    size_t n = p->header_len;
    bool end = (n == 2 && memcmp(p->header, "\r\n", 2) == 0) ||
               (n >= 4 && memcmp(p->header + n - 4, "\r\n\r\n", 4) == 0);
    if (!end) return 0;
    struct multipart_part part;
    if (parse_headers(p, &part) < 0) return -1;
    p->state = MP_BODY;
    p->match = 0;
    if (p->cb && p->cb->part_begin && p->cb->part_begin(p->ctx, &part)) {
        p->state = MP_FAILED;
        return -1;
    }
    return 0;
}

/* One byte of the delimiter line's tail: "--", padding, CRLF. Returns 0 or
 * -1 on error; sets MP_EPILOGUE for the close delimiter. */
static int delim_tail_byte(struct multipart_parser *p, char c)
{
    switch (p->state) {
    case MP_AFTER_DELIM:
        if (c == '-') p->state = MP_CLOSE_DASH;
        else if (is_ows(c)) p->state = MP_PADDING;
        else if (c == '\r') p->state = MP_DELIM_LF;
        else return set_error(p, "the boundary occurs inside a part"), -1;
        return 0;
    case MP_CLOSE_DASH:
        if (c != '-') return set_error(p, "the boundary occurs inside a part"), -1;
        p->state = MP_EPILOGUE;
        return 0;
    case MP_PADDING:
        if (c == '\r') p->state = MP_DELIM_LF;
        else if (!is_ows(c)) return set_error(p, "junk after a multipart boundary"), -1;
        return 0;
    default: /* MP_DELIM_LF */
        if (c != '\n') return set_error(p, "a multipart boundary line must end with CRLF"), -1;
        if (++p->parts > MULTIPART_PARTS_MAX) return set_error(p, "too many parts"), -1;
        p->state = MP_HEADERS;
        p->header_len = 0;
        return 0;
    }
}

/* A delimiter was completed: end the current part (if any). */
static int delimiter_found(struct multipart_parser *p)
{
    bool in_part = p->state == MP_BODY;
    p->state = MP_AFTER_DELIM;
    if (in_part && p->cb && p->cb->part_end && p->cb->part_end(p->ctx)) {
        p->state = MP_FAILED;
        return -1;
    }
    return 0;
}

enum multipart_result multipart_feed(struct multipart_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        switch (p->state) {
        case MP_PREAMBLE:
        case MP_BODY: {
            int rc = scan_delim(p, data, len, &i);
            if (rc < 0) {
                p->state = MP_FAILED;
                return MULTIPART_STOPPED;
            }
            if (rc == 1 && delimiter_found(p) < 0) return MULTIPART_STOPPED;
            break;
        }
        case MP_HEADERS:
            if (header_byte(p, data[i++]) < 0) return p->error[0] ? MULTIPART_ERROR : MULTIPART_STOPPED;
            break;
        case MP_EPILOGUE:
            return MULTIPART_DONE;
        case MP_FAILED:
            return p->error[0] ? MULTIPART_ERROR : MULTIPART_STOPPED;
        default:
            if (delim_tail_byte(p, data[i++]) < 0) return MULTIPART_ERROR;
            break;
        }
    }
    if (p->state == MP_EPILOGUE) return MULTIPART_DONE;
    if (p->state == MP_FAILED) return p->error[0] ? MULTIPART_ERROR : MULTIPART_STOPPED;
    return MULTIPART_MORE;
}
