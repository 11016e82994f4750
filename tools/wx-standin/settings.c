/* settings.c -- configuration from the environment. */
#include "settings.h"
#include "buf.h"
#include "text.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getenv(name), or `def` when unset or empty. */
static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* A malloc'ed, valid UTF-8 copy of s (as Node decodes its environment). */
static char *utf8_copy(const char *s)
{
    struct buf b = BUF_INIT;
    text_utf8_decode(s, strlen(s), &b);
    char *copy = xstrdup(buf_str(&b));
    buf_free(&b);
    return copy;
}

int settings_load(struct settings *s, char *err, size_t errlen)
{
    const char *listen = env_or("STANDIN_LISTEN", "127.0.0.1:9911");
    const char *colon = strchr(listen, ':');
    if (!colon) {
        snprintf(err, errlen, "STANDIN_LISTEN=%s: expected host:port", listen);
        return -1;
    }
    const char *port = colon + 1, *end = strchr(port, ':');
    size_t plen = end ? (size_t)(end - port) : strlen(port);
    bool digits = plen >= 1 && plen <= 5 && strspn(port, "0123456789") >= plen;
    if (!digits || atol(port) > 65535) {
        snprintf(err, errlen, "STANDIN_LISTEN=%s: the port is not a number 0..65535", listen);
        return -1;
    }
    char *host = xstrndup(listen, (size_t)(colon - listen));
    s->host = utf8_copy(host);
    free(host);
    s->port = xstrndup(port, plen);
    s->appid = utf8_copy(env_or("WX_APPID", "wx0000standin0000"));
    s->secret = utf8_copy(env_or("WX_SECRET", "standin-secret"));
    return 0;
}

void settings_free(struct settings *s)
{
    free(s->host);
    free(s->port);
    free(s->appid);
    free(s->secret);
    s->host = s->port = s->appid = s->secret = NULL;
}
