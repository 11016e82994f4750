/* settings.c -- configuration from the environment. */
#include "settings.h"
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

/* -1 with a message in err when variable `name`'s value v is not UTF-8
 * (it goes into JSON answers); 0 otherwise. */
static int check_utf8(const char *name, const char *v, char *err, size_t errlen)
{
    if (text_utf8_valid(v, strlen(v)))
        return 0;
    snprintf(err, errlen, "%s is not valid UTF-8", name);
    return -1;
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
    const char *appid = env_or("WX_APPID", "wx0000standin0000");
    const char *secret = env_or("WX_SECRET", "standin-secret");
    if (check_utf8("STANDIN_LISTEN", listen, err, errlen) < 0 ||
        check_utf8("WX_APPID", appid, err, errlen) < 0 ||
        check_utf8("WX_SECRET", secret, err, errlen) < 0)
        return -1;
    s->host = xstrndup(listen, (size_t)(colon - listen));
    s->port = xstrndup(port, plen);
    s->appid = xstrdup(appid);
    s->secret = xstrdup(secret);
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
