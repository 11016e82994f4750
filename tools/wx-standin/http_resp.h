/* http_resp.h -- HTTP/1.1 response heads as Node's http server writes
 * them (Content-Type, Content-Length, Date, Connection, Keep-Alive), and
 * the bare answers to requests that cannot be parsed. */
#ifndef STANDIN_HTTP_RESP_H
#define STANDIN_HTTP_RESP_H

#include "answer.h"
#include "buf.h"

#include <stdbool.h>

/* Seconds an idle keep-alive connection is kept (announced in Keep-Alive). */
#define HTTP_KEEP_ALIVE_S 5

/* Append the head and (unless head_only, for HEAD requests) the body of a
 * to out. keep_alive says whether the connection stays open after it. */
void http_resp_write(struct buf *out, const struct answer *a, bool keep_alive, bool head_only);

/* Append "HTTP/1.1 100 Continue" and its blank line. */
void http_resp_continue(struct buf *out);

/* Append a body-less answer with "Connection: close" (400, 413, 417,
 * 431), sent before closing a connection whose input cannot be trusted. */
void http_resp_error(struct buf *out, int status);

#endif
