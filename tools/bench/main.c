/* main.c -- loadgen: the load generator of `make bench`. Parses the command
 * line and runs one of: chat (WebSocket connections, senders, deliveries),
 * login (logins per second through nginx) or selftest (checks of the pure
 * parts). Each run prints one JSON object on stdout; logs go to stderr. */
#include "chat.h"
#include "log.h"
#include "login.h"
#include "netutil.h"
#include "selftest.h"
#include "stop.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fputs("usage: loadgen chat --addr IP:PORT --sessions FILE --conns N [--rooms R]\n"
          "         [--room-prefix P] [--path /chat] [--steps S1,S2,..] [--rate MSG_PER_S]\n"
          "         [--window W] [--step-seconds T] [--drain-seconds T] [--hold-seconds T]\n"
          "         [--connect-timeout T] [--connect-concurrency N] [--p99-limit-ms MS]\n"
          "         [--min-ratio F] [--all-steps] [--relay-pid PID] [--rbuf BYTES] [--label X]\n"
          "         [--cpu NAME=PID]...\n"
          "       loadgen login --addr IP:PORT [--clients 32] [--count N] [--duration T]\n"
          "         [--prepare-timeout T] [--user-prefix P] [--sessions-out FILE] [--label X]\n"
          "         [--cpu NAME=PID]...\n"
          "       loadgen selftest\n"
          "Without --steps a chat run connects, holds the connections for --hold-seconds and\n"
          "reports the relay's RSS per connection (idle run). --rate 0 sends in a closed\n"
          "loop of --window unacknowledged messages per sender. --cpu reports the CPU of PID\n"
          "and its children (per login, per acknowledged message) as NAME; up to 8.\n"
          "LOG_LEVEL sets the log level.\n",
          stderr);
}

/* Parse "10,20,50" into o->steps. */
static int parse_steps(const char *text, struct chat_opts *o)
{
    char *copy = strdup(text), *save = NULL;
    o->nsteps = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int v = atoi(t);
        if (v <= 0 || o->nsteps == CHAT_MAX_STEPS) {
            free(copy);
            return -1;
        }
        o->steps[o->nsteps++] = v;
    }
    free(copy);
    return 0;
}

enum {
    OPT_ADDR = 256,
    OPT_SESSIONS,
    OPT_CONNS,
    OPT_ROOMS,
    OPT_PREFIX,
    OPT_PATH,
    OPT_STEPS,
    OPT_RATE,
    OPT_WINDOW,
    OPT_STEP_S,
    OPT_DRAIN_S,
    OPT_HOLD_S,
    OPT_CONN_TO,
    OPT_CONN_CC,
    OPT_P99,
    OPT_RATIO,
    OPT_ALL,
    OPT_PID,
    OPT_RBUF,
    OPT_LABEL,
    OPT_CLIENTS,
    OPT_COUNT,
    OPT_DURATION,
    OPT_PREP_TO,
    OPT_USER_PREFIX,
    OPT_SESS_OUT,
    OPT_CPU,
};

static const struct option long_opts[] = {
    {"addr", 1, 0, OPT_ADDR},
    {"sessions", 1, 0, OPT_SESSIONS},
    {"conns", 1, 0, OPT_CONNS},
    {"rooms", 1, 0, OPT_ROOMS},
    {"room-prefix", 1, 0, OPT_PREFIX},
    {"path", 1, 0, OPT_PATH},
    {"steps", 1, 0, OPT_STEPS},
    {"rate", 1, 0, OPT_RATE},
    {"window", 1, 0, OPT_WINDOW},
    {"step-seconds", 1, 0, OPT_STEP_S},
    {"drain-seconds", 1, 0, OPT_DRAIN_S},
    {"hold-seconds", 1, 0, OPT_HOLD_S},
    {"connect-timeout", 1, 0, OPT_CONN_TO},
    {"connect-concurrency", 1, 0, OPT_CONN_CC},
    {"p99-limit-ms", 1, 0, OPT_P99},
    {"min-ratio", 1, 0, OPT_RATIO},
    {"all-steps", 0, 0, OPT_ALL},
    {"relay-pid", 1, 0, OPT_PID},
    {"rbuf", 1, 0, OPT_RBUF},
    {"label", 1, 0, OPT_LABEL},
    {"clients", 1, 0, OPT_CLIENTS},
    {"count", 1, 0, OPT_COUNT},
    {"duration", 1, 0, OPT_DURATION},
    {"prepare-timeout", 1, 0, OPT_PREP_TO},
    {"user-prefix", 1, 0, OPT_USER_PREFIX},
    {"sessions-out", 1, 0, OPT_SESS_OUT},
    {"cpu", 1, 0, OPT_CPU},
    {0, 0, 0, 0},
};

/* Apply one chat option; returns -1 for a bad value or an unknown option. */
static int chat_opt(struct chat_opts *o, int c, const char *v)
{
    switch (c) {
    case OPT_ADDR:
        o->addr_text = v;
        return net_parse_addr(v, &o->addr);
    case OPT_SESSIONS:
        o->sessions = v;
        return 0;
    case OPT_CONNS:
        o->conns = atoi(v);
        return o->conns > 0 ? 0 : -1;
    case OPT_ROOMS:
        o->rooms = atoi(v);
        return o->rooms > 0 ? 0 : -1;
    case OPT_PREFIX:
        o->room_prefix = v;
        return 0;
    case OPT_PATH:
        o->path = v;
        return 0;
    case OPT_STEPS:
        return parse_steps(v, o);
    case OPT_RATE:
        o->rate = atof(v);
        return o->rate >= 0 ? 0 : -1;
    case OPT_WINDOW:
        o->window = atoi(v);
        return o->window > 0 ? 0 : -1;
    case OPT_STEP_S:
        o->step_s = atof(v);
        return o->step_s > 0 ? 0 : -1;
    case OPT_DRAIN_S:
        o->drain_s = atof(v);
        return 0;
    case OPT_HOLD_S:
        o->hold_s = atof(v);
        return 0;
    case OPT_CONN_TO:
        o->connect_timeout_s = atof(v);
        return 0;
    case OPT_CONN_CC:
        o->connect_concurrency = atoi(v);
        return o->connect_concurrency > 0 ? 0 : -1;
    case OPT_P99:
        o->p99_limit_ms = atof(v);
        return 0;
    case OPT_RATIO:
        o->min_ratio = atof(v);
        return 0;
    case OPT_ALL:
        o->all_steps = true;
        return 0;
    case OPT_PID:
        o->relay_pid = atoi(v);
        return 0;
    case OPT_RBUF:
        o->rbuf = atoi(v);
        return o->rbuf >= 1024 ? 0 : -1;
    case OPT_LABEL:
        o->label = v;
        return 0;
    case OPT_CPU:
        return proc_groups_add(&o->cpu, v);
    default:
        return -1;
    }
}

static int main_chat(int argc, char **argv)
{
    struct chat_opts o = {.path = "/chat",
                          .room_prefix = "bench",
                          .rooms = 1,
                          .rate = 10,
                          .window = 8,
                          .step_s = 4,
                          .drain_s = 2,
                          .hold_s = 2,
                          .connect_timeout_s = 60,
                          .connect_concurrency = 200,
                          .p99_limit_ms = 100,
                          .min_ratio = 0.99,
                          .rbuf = 16384};
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (chat_opt(&o, c, optarg) != 0) {
            fprintf(stderr, "loadgen chat: bad or unknown option %s\n", argv[optind - 1]);
            return 2;
        }
    }
    if (!o.addr_text || !o.sessions || o.conns <= 0) {
        usage();
        return 2;
    }
    return chat_run_main(&o) == 0 ? 0 : 1;
}

static int main_login(int argc, char **argv)
{
    struct login_opts o = {.clients = 32,
                           .count = 10000,
                           .duration_s = 10,
                           .prepare_timeout_s = 60,
                           .user_prefix = "bench-login"};
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        const char *v = optarg;
        switch (c) {
        case OPT_ADDR:
            o.addr_text = v;
            if (net_parse_addr(v, &o.addr) != 0)
                goto bad;
            break;
        case OPT_CLIENTS:
            o.clients = atoi(v);
            if (o.clients <= 0)
                goto bad;
            break;
        case OPT_COUNT:
            o.count = atoi(v);
            if (o.count <= 0)
                goto bad;
            break;
        case OPT_DURATION:
            o.duration_s = atof(v);
            break;
        case OPT_PREP_TO:
            o.prepare_timeout_s = atof(v);
            break;
        case OPT_USER_PREFIX:
            o.user_prefix = v;
            break;
        case OPT_SESS_OUT:
            o.sessions_out = v;
            break;
        case OPT_LABEL:
            o.label = v;
            break;
        case OPT_CPU:
            if (proc_groups_add(&o.cpu, v) != 0)
                goto bad;
            break;
        default:
            goto bad;
        }
    }
    if (!o.addr_text) {
        usage();
        return 2;
    }
    return login_run_main(&o) == 0 ? 0 : 1;
bad:
    fprintf(stderr, "loadgen login: bad or unknown option %s\n", argv[optind - 1]);
    return 2;
}

int main(int argc, char **argv)
{
    log_init("loadgen", getenv("LOG_LEVEL"));
    stop_install();
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *cmd = argv[1];
    optind = 2;
    if (strcmp(cmd, "chat") == 0)
        return main_chat(argc, argv);
    if (strcmp(cmd, "login") == 0)
        return main_login(argc, argv);
    if (strcmp(cmd, "selftest") == 0)
        return selftest_run() == 0 ? 0 : 1;
    usage();
    return 2;
}
