/* main.c -- bare-relay: the bare broadcaster of `make bench` (see bare.h).
 *
 *   bare-relay LISTEN [FLUSH_MS]
 *
 * LISTEN is "host:port" or "unix:/path", as the relay's RELAY_LISTEN.
 * FLUSH_MS (default 30, as the relay's RELAY_FLUSH_INTERVAL) is how often a
 * busy socket is written, in 16 phase groups; 0 writes every socket at the
 * end of the loop turn its frames were queued in.
 * SIGTERM or SIGINT stops it. Logs to standard error (LOG_LEVEL). */
#include "bare.h"

#include "log.h"
#include "loop.h"
#include "net.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void on_listen(struct loop *loop, int fd, int mask, void *data)
{
    (void)mask, (void)data;
    client_accept_all(loop, fd);
}

static void on_signal(struct loop *loop, int fd, int mask, void *data)
{
    (void)mask, (void)data;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        log_info("signal %u: stopping", si.ssi_signo);
    loop_stop(loop);
}

/* Every millisecond: write the phase groups whose tick has come. Group g
 * is written at offset g / BARE_GROUPS of each flush interval. */
static long long on_group_tick(struct loop *loop, long long id, void *data)
{
    (void)id;
    static unsigned long long written; /* group ticks done since the epoch */
    long long interval = *(const long long *)data;
    unsigned long long due = (unsigned long long)loop_now_ms() * BARE_GROUPS / interval;
    if (written == 0 || due - written > BARE_GROUPS)
        written = due - 1; /* first tick, or the loop was held up */
    while (written < due)
        client_flush_group(loop, (unsigned)(++written % BARE_GROUPS));
    return 1;
}

static void on_turn_end(struct loop *loop, void *data)
{
    (void)data;
    client_flush_due(loop);
}

/* SIGTERM and SIGINT through a signalfd; SIGPIPE ignored. Returns the
 * signalfd or -1 (logged). */
static int signals_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    int fd = -1;
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        log_error("signalfd: %s", strerror(errno));
    return fd;
}

static int parse_flush_ms(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    log_init("bare-relay", getenv("LOG_LEVEL"));
    static long long flush_ms = 30;
    if (argc < 2 || argc > 3 || (argc == 3 && parse_flush_ms(argv[2], &flush_ms) < 0)) {
        fprintf(stderr, "usage: bare-relay LISTEN [FLUSH_MS 0..1000]\n");
        return 2;
    }
    struct loop *loop = loop_create();
    int lfd = loop ? net_listen(argv[1]) : -1;
    int sfd = lfd >= 0 ? signals_fd() : -1;
    int rc = 1;
    if (sfd >= 0 && loop_watch(loop, lfd, LOOP_READ, on_listen, NULL) == 0 &&
        loop_watch(loop, sfd, LOOP_READ, on_signal, NULL) == 0) {
        client_set_flush_interval(flush_ms);
        if (flush_ms > 0)
            loop_add_timer(loop, 1, on_group_tick, &flush_ms);
        loop_set_before_sleep(loop, on_turn_end, NULL);
        log_info("listening on %s, flush every %lld ms", argv[1], flush_ms);
        rc = loop_run(loop) == 0 ? 0 : 1;
        client_close_all(loop);
    }
    room_free_all();
    if (sfd >= 0)
        close(sfd);
    if (lfd >= 0)
        close(lfd);
    if (loop)
        loop_free(loop);
    log_info("stopped");
    return rc;
}
