/* settings.c -- the relay's configuration table. */
#include "settings.h"
#include "config.h"
#include "msg.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

struct settings cfg;

#define GIB (1024LL * 1024 * 1024)

static const struct config_option options[] = {
    {"DATABASE_URL", CONFIG_STRING, &cfg.database_url, "", 0, 0,
     "PostgreSQL URL for the chat_relay role (required)"},
    {"RELAY_LISTEN", CONFIG_STRING, &cfg.listen, "127.0.0.1:8081", 0, 0,
     "host:port and/or unix:/path (comma-separated, up to 4) for WebSocket upgrades and /healthz"},
    {"RELAY_METRICS_LISTEN", CONFIG_STRING, &cfg.metrics_listen, "127.0.0.1:9101", 0, 0,
     "address:port for GET /metrics (empty disables)"},
    {"RELAY_MAX_MESSAGE", CONFIG_SIZE, &cfg.max_message, "64K", 256, GIB,
     "largest frame or reassembled message, else close 1009"},
    {"RELAY_MAX_CONTENT", CONFIG_SIZE, &cfg.max_content, "4096", 1, GIB,
     "largest content text or image url in bytes"},
    {"RELAY_HISTORY", CONFIG_INT, &cfg.history, "20", 0, 10000,
     "messages replayed on a plain join"},
    {"RELAY_CATCHUP_MAX", CONFIG_INT, &cfg.catchup_max, "1000", 0, 100000,
     "most messages replayed for since="},
    {"RELAY_RATE", CONFIG_INT, &cfg.rate, "10", 1, 1000000, "messages per second per connection"},
    {"RELAY_RATE_BURST", CONFIG_INT, &cfg.rate_burst, "20", 1, 1000000,
     "burst of messages per connection"},
    {"RELAY_ABUSE_LIMIT", CONFIG_INT, &cfg.abuse_limit, "20", 1, 1000000,
     "rate-limited messages within 10 s before close 1008"},
    {"RELAY_QUEUE_MAX", CONFIG_SIZE, &cfg.queue_max, "1M", 1024, GIB,
     "bytes queued to one client before close 4008"},
    {"RELAY_PING_INTERVAL", CONFIG_DURATION, &cfg.ping_interval_ms, "25s", 10, 86400000,
     "interval of pings and presence announcements"},
    {"RELAY_IDLE_TIMEOUT", CONFIG_DURATION, &cfg.idle_timeout_ms, "75s", 10, 86400000,
     "close a client that sent no frame for this long"},
    {"RELAY_HANDSHAKE_TIMEOUT", CONFIG_DURATION, &cfg.handshake_timeout_ms, "10s", 10, 3600000,
     "time for the whole upgrade request"},
    {"RELAY_HANDSHAKE_MAX", CONFIG_SIZE, &cfg.handshake_max, "8K", 512, 65536,
     "bytes of request head, else 431"},
    {"RELAY_MAX_CONNECTIONS", CONFIG_INT, &cfg.max_connections, "20000", 1, 10000000,
     "WebSocket connections per process; over it upgrades get 503"},
    {"RELAY_ALLOWED_URL_PREFIXES", CONFIG_STRING, &cfg.allowed_url_prefixes, "/files/", 0, 0,
     "comma-separated prefixes an image url must start with"},
    {"RELAY_SHUTDOWN_TIMEOUT", CONFIG_DURATION, &cfg.shutdown_timeout_ms, "5s", 0, 3600000,
     "longest drain after SIGTERM"},
    {"RELAY_DB_WRITERS", CONFIG_INT, &cfg.db_writers, "2", 1, 16,
     "pipelined database connections posting messages (rooms spread by id)"},
    {"RELAY_BATCH_DELAY", CONFIG_DURATION, &cfg.batch_delay_ms, "5ms", 0, 1000,
     "a busy writer commits at most one batch per delay (64 waiting go at once; 0: no delay)"},
    {"RELAY_BATCH_DELAY_BUSY", CONFIG_DURATION, &cfg.batch_delay_busy_ms, "0", 0, 1000,
     "the delay of a writer posting over 800 messages/s, until under 400 (0 or not above: off)"},
    {"RELAY_FLUSH_INTERVAL", CONFIG_DURATION, &cfg.flush_interval_ms, "30ms", 0, 1000,
     "write a client's socket at most about once per interval (0: at once)"},
    {"LOG_LEVEL", CONFIG_STRING, &cfg.log_level, "info", 0, 0, "debug, info, warn or error"},
};

int settings_load(char *err, size_t errlen)
{
    if (config_load(options, countof(options), NULL, NULL, err, errlen) < 0)
        return -1;
    if (!cfg.database_url || !*cfg.database_url) {
        snprintf(err, errlen, "DATABASE_URL: required");
        return -1;
    }
    if (cfg.metrics_listen && !*cfg.metrics_listen) {
        free(cfg.metrics_listen);
        cfg.metrics_listen = NULL;
    }
    cfg.url_prefixes = msg_prefixes_parse(cfg.allowed_url_prefixes);
    return 0;
}

void settings_free(void)
{
    msg_prefixes_free(cfg.url_prefixes);
    cfg.url_prefixes = NULL;
    config_free(options, countof(options));
}

void settings_print_help(void)
{
    config_print_help(options, countof(options));
}
