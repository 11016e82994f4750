/* settings.h -- the relay's configuration, read once from the environment
 * through the shared config table (see docs/relay.md). */
#ifndef RELAY_SETTINGS_H
#define RELAY_SETTINGS_H

#include <stddef.h>

struct settings {
    char *database_url;
    char *listen;
    char *metrics_listen; /* NULL: metrics disabled */
    long long max_message, max_content, history, catchup_max;
    long long rate, rate_burst, abuse_limit, queue_max;
    long long ping_interval_ms, idle_timeout_ms, handshake_timeout_ms, handshake_max;
    long long max_connections, shutdown_timeout_ms, db_writers;
    long long flush_interval_ms; /* 0: write every socket in the turn its frames came */
    long long batch_delay_ms;    /* 0: post a batch as soon as the pipeline has room */
    long long batch_delay_busy_ms; /* the delay of a busy writer (see post.c) */
    char *allowed_url_prefixes;
    char *log_level;
    char **url_prefixes; /* parsed allowed_url_prefixes, NULL-terminated */
};

/* The process-wide settings (filled by settings_load). */
extern struct settings cfg;

/* Load every setting from the environment. Returns 0, or -1 with the
 * reason in err. */
int settings_load(char *err, size_t errlen);

/* Release the strings settings_load() allocated. */
void settings_free(void);

/* Print the configuration table (for --help). */
void settings_print_help(void);

#endif
