/* main.c -- login-fcgi: configuration, library set-up, the server, and a
 * clean exit on SIGTERM/SIGINT. */
#include "crypto.h"
#include "log.h"
#include "server.h"
#include "settings.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* SIGTERM and SIGINT are taken with sigwait() by the main thread
 * (server.c); every thread inherits the mask. SIGPIPE is ignored (a web
 * server that went away is an error return, not a death). */
static void setup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        settings_print_help();
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "login-fcgi: unknown argument %s (try --help)\n", argv[1]);
        return 2;
    }
    struct settings cfg;
    char err[256];
    if (settings_load(&cfg, err, sizeof(err)) < 0) {
        log_init("login-fcgi", NULL);
        log_error("configuration: %s (see --help)", err);
        return 2;
    }
    log_init("login-fcgi", cfg.log_level);
    crypto_init();
    setup_signals();
    int rc = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        log_error("curl_global_init failed");
    } else {
        if (server_run(&cfg) == 0)
            rc = 0;
        curl_global_cleanup();
    }
    settings_free(&cfg);
    return rc;
}
