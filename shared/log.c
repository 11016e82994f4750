/* log.c -- one-line structured log records, one write(2) each. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static const char *log_program = "chat";
static enum log_level log_min_level = LOG_INFO;
static int log_pid; /* set by log_init(): one getpid() instead of one per line */
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name)
{
    for (int i = 0; name && i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_init(const char *program, const char *level_name)
{
    int level = log_level_parse(level_name);
    log_program = program ? program : "chat";
    log_min_level = level < 0 ? LOG_INFO : (enum log_level)level;
    log_pid = (int)getpid(); /* the programs never fork */
}

/* Format the UTC time stamp with milliseconds; returns its length. */
static int log_format_time(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    return (int)n + snprintf(buf + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (level < log_min_level)
        return;
    int saved_errno = errno;
    char line[LOG_LINE_MAX];
    int len = log_format_time(line, sizeof(line));
    len += snprintf(line + len, sizeof(line) - len, " %s[%d] %s ", log_program,
                    log_pid ? log_pid : (int)getpid(), level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int body = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (body < 0)
        body = 0;
    if ((size_t)(len + body) >= sizeof(line) - 1) {
        len = sizeof(line) - 5;
        memcpy(line + len, "...", 3);
        len += 3;
    } else {
        len += body;
    }
    line[len++] = '\n';
    ssize_t unused = write(STDERR_FILENO, line, (size_t)len);
    (void)unused;
    errno = saved_errno;
}
