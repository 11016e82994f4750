/* settings.h -- the stand-in's configuration, from the environment like
 * the Node version: STANDIN_LISTEN (host:port, default 127.0.0.1:9911),
 * WX_APPID (default wx0000standin0000), WX_SECRET (default
 * standin-secret); an empty variable means its default. LOG_LEVEL sets
 * the log level. Every value must be valid UTF-8. */
#ifndef STANDIN_SETTINGS_H
#define STANDIN_SETTINGS_H

#include <stddef.h>

struct settings {
    char *host;   /* STANDIN_LISTEN before the first ':' */
    char *port;   /* after it, up to a second ':' (decimal 0..65535) */
    char *appid;  /* valid UTF-8 */
    char *secret; /* likewise; never logged */
};

/* Fill s from the environment (malloc'ed strings). Returns 0, or -1 with
 * the reason in err (and nothing to free). */
int settings_load(struct settings *s, char *err, size_t errlen);

/* Free the strings. */
void settings_free(struct settings *s);

#endif
