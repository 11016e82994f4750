/* main.c -- the relay: configuration, signals, the loop's hooks and timers,
 * orderly shutdown. */
#include "conn.h"
#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "post.h"
#include "presence.h"
#include "room.h"
#include "server.h"
#include "settings.h"
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static struct {
    struct loop *loop;
    int sigfd;
    bool stopping;
    long long deadline_ms;
} app = {.sigfd = -1};

static void before_sleep(struct loop *loop, void *data)
{
    (void)data;
    post_before_sleep(loop);
    presence_flush();
    conn_before_sleep();
}

/* Shutdown is done when no client is left and nothing waits for the
 * database, queued or in flight. */
static bool drained(void)
{
    return conn_none_left() && post_queued() == 0 && store_pending() == 0;
}

static long long sweep_timer(struct loop *loop, long long id, void *data)
{
    (void)id, (void)data;
    long long now = loop_now_ms();
    conn_sweep(now);
    if (app.stopping && (drained() || now > app.deadline_ms)) {
        log_info("shutdown: %s", now > app.deadline_ms ? "timeout reached" : "drained");
        loop_stop(loop);
    }
    long long every = cfg.ping_interval_ms < cfg.idle_timeout_ms ? cfg.ping_interval_ms
                                                                  : cfg.idle_timeout_ms;
    if (cfg.handshake_timeout_ms < every)
        every = cfg.handshake_timeout_ms;
    every /= 4;
    if (app.stopping || every > 1000)
        every = app.stopping ? 20 : 1000;
    return every < 10 ? 10 : every;
}

static long long presence_timer(struct loop *loop, long long id, void *data)
{
    (void)loop, (void)id, (void)data;
    if (!app.stopping) {
        presence_tick();
        room_tick();
    }
    return cfg.ping_interval_ms;
}

static void begin_shutdown(void)
{
    if (app.stopping)
        return;
    app.stopping = true;
    app.deadline_ms = loop_now_ms() + cfg.shutdown_timeout_ms;
    log_info("shutdown: closing every connection with 1001 (up to %lld ms)",
             cfg.shutdown_timeout_ms);
    server_stop_accepting();
    conn_close_all();
    presence_goodbye();
}

static void on_signal(struct loop *loop, int fd, int mask, void *data)
{
    (void)loop, (void)mask, (void)data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u received", si.ssi_signo);
        begin_shutdown();
    }
}

static void on_notify(const char *channel, const char *payload)
{
    if (strcmp(channel, "chat_messages") == 0) {
        room_notify_messages(payload);
    } else if (strcmp(channel, "chat_presence") == 0) {
        presence_on_notify(payload);
    } else if (strcmp(channel, "chat_sessions") == 0) {
        json_error_t err;
        json_t *o = json_loads(payload, 0, &err);
        const char *id = json_string_value(json_object_get(o, "revoked"));
        if (id)
            conn_revoke_session(id, "session revoked");
        json_decref(o);
    }
}

/* LISTEN is (again) in place: catch up on what it may have missed. */
static void on_listen_up(void)
{
    room_resync();
    presence_hello();
    conn_recheck_sessions();
}

static int setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (app.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        log_error("signalfd: %s", strerror(errno));
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return loop_watch(app.loop, app.sigfd, LOOP_READ, on_signal, NULL);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("relay -- WebSocket chat relay. Configuration (environment):\n");
        settings_print_help();
        return 0;
    }
    char err[512];
    if (settings_load(err, sizeof(err)) < 0) {
        log_init("relay", NULL);
        log_error("configuration: %s", err);
        settings_free();
        return 2;
    }
    log_init("relay", cfg.log_level);
    crypto_init();
    raise_fd_limit();
    int rc = 1;
    app.loop = loop_create();
    struct store_events ev = {.notify = on_notify, .listen_up = on_listen_up};
    if (!app.loop || setup_signals() < 0 || presence_init() < 0)
        goto out;
    conn_module_init(app.loop);
    if (server_listen(app.loop, cfg.listen) < 0)
        goto out;
    if (cfg.metrics_listen && metrics_listen(app.loop, cfg.metrics_listen) < 0)
        goto out;
    if (store_init(app.loop, cfg.database_url, (size_t)cfg.db_writers, &ev) < 0)
        goto out;
    loop_set_before_sleep(app.loop, before_sleep, NULL);
    loop_add_timer(app.loop, 10, sweep_timer, NULL);
    loop_add_timer(app.loop, cfg.ping_interval_ms, presence_timer, NULL);
    rc = loop_run(app.loop) < 0 ? 1 : 0;
    log_info("exiting");
out:
    server_stop_accepting();
    conn_module_free();
    store_shutdown();
    post_module_free();
    room_module_free();
    presence_free();
    metrics_shutdown();
    if (app.sigfd >= 0)
        close(app.sigfd);
    loop_free(app.loop);
    settings_free();
    return rc;
}
