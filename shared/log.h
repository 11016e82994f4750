/* log.h -- one-line structured log records on standard error.
 *
 * Each record is written with a single write(2), so lines from several
 * threads or processes never interleave:
 *   2026-11-25T19:31:41.123Z relay[1234] warn conn=7 peer=127.0.0.1:5000 closing: too slow
 * Callers put the subject first ("conn=7 ...", "req=/login ..."), so a
 * production log can be followed per connection or request. Never pass a
 * secret (skey, session_key, app secret, password) to these functions. */
#ifndef SHARED_LOG_H
#define SHARED_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the program name printed in every record and the minimum level.
 * `level_name` is "debug", "info", "warn" or "error"; NULL or unknown
 * means "info". Call once at start-up, before threads start. */
void log_init(const char *program, const char *level_name);

/* Parse a level name; returns -1 when it is not one of the four. */
int log_level_parse(const char *name);

/* Write one record if `level` is at or above the configured minimum.
 * Records longer than 4 KiB are truncated (and end with "..."). */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
