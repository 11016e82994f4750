/* settings.h -- login-fcgi's configuration: one table of environment
 * variables (shared/config.h) filling one struct. main.c loads it once at
 * start-up; afterwards it is read-only and shared by every worker. */
#ifndef LOGIN_SETTINGS_H
#define LOGIN_SETTINGS_H

#include <stddef.h>

struct settings {
    char *database_url;   /* required */
    char *wx_appid;       /* required */
    char *wx_secret;      /* required: never logged */
    char *wx_api_base;    /* e.g. https://api.weixin.qq.com */
    char *fcgi_listen;    /* host:port, or a path for a Unix socket */
    char *upload_dir;
    char *files_base_url; /* URL prefix of uploaded files, e.g. /files/ */
    char *log_level;
    long long session_ttl_ms;
    long long workers;
    long long threads; /* 0: one per core */
    long long login_batch_max;
    long long login_batches;
    long long wx_connect_timeout_ms;
    long long wx_timeout_ms;
    long long upload_max_bytes;
};

/* Fill *s from the environment (getenv), with defaults. Returns 0, or -1 with
 * "NAME: reason" in err (a bad value or a missing required variable). On
 * success release with settings_free(); on failure nothing is left to free. */
int settings_load(struct settings *s, char *err, size_t errlen);

/* Release the strings settings_load() allocated. */
void settings_free(struct settings *s);

/* Print every variable with its default and meaning (for --help). */
void settings_print_help(void);

#endif
