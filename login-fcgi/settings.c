/* settings.c -- the table of login-fcgi's environment variables. */
#include "settings.h"

#include "config.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)

/* The table points into one struct; settings_load() copies it out. */
static struct settings table_target;

static const struct config_option options[] = {
    {"DATABASE_URL", CONFIG_STRING, &table_target.database_url, "", 0, 0,
     "PostgreSQL connection string of the chat_login role (required)"},
    {"WX_APPID", CONFIG_STRING, &table_target.wx_appid, "", 0, 0,
     "the mini-program's AppID (required)"},
    {"WX_SECRET", CONFIG_STRING, &table_target.wx_secret, "", 0, 0,
     "the mini-program's AppSecret (required; never logged)"},
    {"WX_API_BASE", CONFIG_STRING, &table_target.wx_api_base, "https://api.weixin.qq.com", 0, 0,
     "base URL of WeChat's API (jscode2session); tests point it at a stand-in"},
    {"SESSION_TTL", CONFIG_DURATION, &table_target.session_ttl_ms, "24h", 1000, 366 * DAY_MS,
     "lifetime of a login session"},
    {"FCGI_LISTEN", CONFIG_STRING, &table_target.fcgi_listen, "127.0.0.1:9000", 0, 0,
     "FastCGI listen address: host:port, or a path for a Unix socket"},
    {"LOGIN_WORKERS", CONFIG_INT, &table_target.workers, "32", 1, 512,
     "requests served at once, by as many workers (each with its own database connection "
     "and HTTP client), spread over the threads"},
    {"LOGIN_THREADS", CONFIG_INT, &table_target.threads, "0", 0, 64,
     "threads, each with its own event loop (0: one per processor core)"},
    {"LOGIN_BATCH_MAX", CONFIG_INT, &table_target.login_batch_max, "32", 1, 512,
     "most logins stored by one statement (concurrent logins are stored together)"},
    {"LOGIN_BATCHES", CONFIG_INT, &table_target.login_batches, "1", 1, 64,
     "login statements running at once, each on its own database connection"},
    {"WX_CONNECT_TIMEOUT", CONFIG_DURATION, &table_target.wx_connect_timeout_ms, "2s", 1, 60000,
     "connect timeout for WeChat's API"},
    {"WX_TIMEOUT", CONFIG_DURATION, &table_target.wx_timeout_ms, "5s", 1, 300000,
     "total timeout of one call to WeChat's API"},
    {"UPLOAD_DIR", CONFIG_STRING, &table_target.upload_dir, "var/files", 0, 0,
     "directory where uploaded images are stored (nginx serves it at FILES_BASE_URL)"},
    {"UPLOAD_MAX_BYTES", CONFIG_SIZE, &table_target.upload_max_bytes, "10M", 1024,
     1024LL * 1024 * 1024, "largest accepted upload"},
    {"FILES_BASE_URL", CONFIG_STRING, &table_target.files_base_url, "/files/", 0, 0,
     "URL prefix of uploaded files; POST /user accepts only avatars under it"},
    {"LOG_LEVEL", CONFIG_STRING, &table_target.log_level, "info", 0, 0,
     "debug, info, warn or error"},
};

int settings_load(struct settings *s, char *err, size_t errlen)
{
    memset(&table_target, 0, sizeof(table_target));
    if (config_load(options, countof(options), NULL, NULL, err, errlen) < 0) {
        config_free(options, countof(options));
        return -1;
    }
    const char *missing = !table_target.database_url ? "DATABASE_URL"
                          : !table_target.wx_appid   ? "WX_APPID"
                          : !table_target.wx_secret  ? "WX_SECRET"
                                                     : NULL;
    if (missing) {
        snprintf(err, errlen, "%s: required but not set", missing);
        config_free(options, countof(options));
        return -1;
    }
    *s = table_target;
    memset(&table_target, 0, sizeof(table_target));
    return 0;
}

void settings_free(struct settings *s)
{
    char **strings[] = {&s->database_url, &s->wx_appid,       &s->wx_secret,
                        &s->wx_api_base,  &s->fcgi_listen,    &s->upload_dir,
                        &s->files_base_url, &s->log_level};
    for (size_t i = 0; i < countof(strings); i++) {
        free(*strings[i]);
        *strings[i] = NULL;
    }
}

void settings_print_help(void)
{
    printf("login-fcgi -- the chat room's FastCGI login service.\n\n"
           "Configuration (environment variables):\n");
    config_print_help(options, countof(options));
}
