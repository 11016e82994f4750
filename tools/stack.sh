#!/usr/bin/env bash
# stack.sh -- start and stop the whole system: a private PostgreSQL cluster,
# the WeChat stand-in, login-fcgi, the relay(s) and nginx. `make run` and the
# tests both use it, so they run the same system.
#
#   tools/stack.sh run                  foreground, state under var/ (kept),
#                                       Ctrl-C or SIGTERM stops everything
#   tools/stack.sh start DIR            background, state in DIR; writes DIR/env
#   tools/stack.sh stop DIR             stop everything started in DIR, by PID
#   tools/stack.sh pg-stop DIR [MODE]   stop PostgreSQL (fast|immediate)
#   tools/stack.sh pg-start DIR         start it again (same port and socket)
#   tools/stack.sh svc-stop DIR NAME [SIGNAL]   stop login, relay1.., standin, nginx
#   tools/stack.sh svc-start DIR NAME   start it again with the same settings
#
# Environment read by `start`/`run` (all optional):
#   PORT         nginx's loopback port (run: 8080; start: a free port)
#   RELAYS       number of relay processes (default 1)
#   BIN_DIR      where the login-fcgi/, relay/ and tools/wx-standin/ binaries are
#                (default build/release)
#   DATABASE_URL use this PostgreSQL instead of the private cluster
#   WX_API_BASE, WX_APPID, WX_SECRET  use this WeChat endpoint instead of the stand-in
#   PG_TEST_SETTINGS=1  run the private cluster with fsync off (tests only)
#   MAINTENANCE_INTERVAL  run: seconds between tools/maintenance.sh runs (3600)
# Any other variable (SESSION_TTL, RELAY_*, ...) is passed to the programs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Run a command as the postgres user (PostgreSQL refuses root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# --- state -----------------------------------------------------------------

load_env() {
    [ -f "$DIR/env" ] || die "no $DIR/env: was the stack started there?"
    # shellcheck disable=SC1091
    . "$DIR/env"
}

write_env() {
    cat >"$DIR/env" <<EOF
export STACK_DIR='$DIR'
export PORT='$PORT'
export BASE_URL='http://127.0.0.1:$PORT'
export PG_SOCKET_DIR='$PG_SOCKET_DIR'
export PG_PORT='$PG_PORT'
export PRIVATE_PG='$PRIVATE_PG'
export ADMIN_DATABASE_URL='$ADMIN_DATABASE_URL'
export LOGIN_DATABASE_URL='$LOGIN_DATABASE_URL'
export RELAY_DATABASE_URL='$RELAY_DATABASE_URL'
export DBA_DATABASE_URL='$DBA_DATABASE_URL'
export WX_API_BASE='$WX_API_BASE'
export WX_APPID='$WX_APPID'
export WX_SECRET='$WX_SECRET'
export STANDIN='$STANDIN'
export STANDIN_ADDR='$STANDIN_ADDR'
export FCGI_ADDR='$FCGI_ADDR'
export RELAYS='$RELAYS'
export RELAY_PORTS='$RELAY_PORTS'
export RELAY_SOCKETS='$RELAY_SOCKETS'
export RELAY_METRICS_PORTS='$RELAY_METRICS_PORTS'
export FILES_DIR='$FILES_DIR'
export BIN_DIR='$BIN_DIR'
EOF
}

# --- processes ---------------------------------------------------------------

# spawn NAME CMD...: start in the background, log to DIR/log/NAME.log.
spawn() {
    local name=$1; shift
    mkdir -p "$DIR/log" "$DIR/pid"
    "$@" >>"$DIR/log/$name.log" 2>&1 &
    echo $! >"$DIR/pid/$name.pid"
}

# stop_pid NAME [SIGNAL]: signal the process, wait up to 10 s, then SIGKILL.
stop_pid() {
    local name=$1 sig=${2:-TERM} file="$DIR/pid/$1.pid" pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    rm -f "$file"
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    say "$name (pid $pid) ignored SIG$sig for 10 s: killing"
    kill -KILL "$pid" 2>/dev/null || true
}

wait_http() {
    local url=$1 what=$2
    for _ in $(seq 300); do
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$what did not come up at $url (logs in $DIR/log)"
}

# --- PostgreSQL ----------------------------------------------------------------

pg_init() {
    local data=$DIR/pg/data
    mkdir -p "$DIR/pg"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/pg"
    chmod 700 "$DIR/pg"
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating PostgreSQL cluster in $data"
        # Byte order for every comparison (C); character classes of Unicode
        # (C.UTF-8), so the trigram search indexes Chinese words too
        # (docs/database.md, "Search and the character type").
        as_pg "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale \
            --lc-ctype=C.UTF-8 >"$DIR/pg-init.log" 2>&1 ||
            { cat "$DIR/pg-init.log" >&2; die "initdb failed"; }
    fi
}

pg_start() {
    local opts="-c listen_addresses='' -c unix_socket_directories='$PG_SOCKET_DIR' -p $PG_PORT"
    opts+=" -c max_connections=200"
    [ "${PG_TEST_SETTINGS:-0}" = 1 ] && opts+=" -c fsync=off -c full_page_writes=off"
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -o "$opts" -w -t 60 start >/dev/null ||
        { tail -20 "$DIR/pg/server.log" >&2; die "PostgreSQL did not start"; }
}

pg_stop() {
    [ "$PRIVATE_PG" = 1 ] || return 0
    [ -f "$DIR/pg/data/postmaster.pid" ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m "${1:-fast}" -w -t 60 stop >/dev/null 2>&1 || true
}

pg_create_db() {
    local url="postgresql:///postgres?host=$PG_SOCKET_DIR&port=$PG_PORT&user=postgres"
    if [ "$(psql "$url" -XtAc "SELECT 1 FROM pg_database WHERE datname = 'chat'")" != 1 ]; then
        psql "$url" -Xq -c "CREATE DATABASE chat" >/dev/null
    fi
}

# Private cluster unless DATABASE_URL names one; sets the *_DATABASE_URL.
setup_database() {
    if [ -n "${DATABASE_URL:-}" ]; then
        PRIVATE_PG=0 PG_SOCKET_DIR='' PG_PORT=''
        ADMIN_DATABASE_URL=$DATABASE_URL LOGIN_DATABASE_URL=$DATABASE_URL
        RELAY_DATABASE_URL=$DATABASE_URL DBA_DATABASE_URL=$DATABASE_URL
    else
        PRIVATE_PG=1
        PG_SOCKET_DIR=$DIR/pg/socket
        PG_PORT=${PG_PORT:-$(free_port)}
        pg_init
        mkdir -p "$PG_SOCKET_DIR"
        [ "$(id -u)" = 0 ] && chown postgres: "$PG_SOCKET_DIR"
        pg_start
        pg_create_db
        local base="postgresql:///chat?host=$PG_SOCKET_DIR&port=$PG_PORT"
        ADMIN_DATABASE_URL="$base&user=postgres"
        LOGIN_DATABASE_URL="$base&user=chat_login"
        RELAY_DATABASE_URL="$base&user=chat_relay"
        DBA_DATABASE_URL="$base&user=chat_dba"
    fi
    DATABASE_URL=$ADMIN_DATABASE_URL "$ROOT/sql/migrate.sh" >"$DIR/log/migrate.log" 2>&1 ||
        { cat "$DIR/log/migrate.log" >&2; die "migrations failed"; }
}

# --- services ------------------------------------------------------------------

start_standin() {
    spawn standin env STANDIN_LISTEN="$STANDIN_ADDR" "$BIN_DIR/tools/wx-standin/wx-standin"
}

start_login() {
    spawn login env DATABASE_URL="$LOGIN_DATABASE_URL" FCGI_LISTEN="$FCGI_ADDR" \
        UPLOAD_DIR="$FILES_DIR" "$BIN_DIR/login-fcgi/login-fcgi"
}

# start_relay N: relay number N (1-based) on the N-th port of RELAY_PORTS
# (clients and tests straight to the relay) and, when RELAY_SOCKETS has one,
# on its N-th Unix socket (nginx).
start_relay() {
    local n=$1 port metrics sock listen
    port=$(echo "$RELAY_PORTS" | cut -d' ' -f"$n")
    metrics=$(echo "$RELAY_METRICS_PORTS" | cut -d' ' -f"$n")
    sock=$(echo "$RELAY_SOCKETS" | awk -v n="$n" '{ print $n }')
    listen=127.0.0.1:$port${sock:+,unix:$sock}
    spawn "relay$n" env DATABASE_URL="$RELAY_DATABASE_URL" RELAY_LISTEN="$listen" \
        RELAY_METRICS_LISTEN="127.0.0.1:$metrics" "$BIN_DIR/relay/relay"
}

# socket_path NAME: where the Unix socket NAME goes, or nothing when that
# path would be too long for a socket address (the caller falls back to a
# loopback port). nginx reaches the relays and login-fcgi through these:
# a Unix socket costs less per message than loopback TCP.
socket_path() {
    local path=$DIR/sock/$1.sock
    [ ${#path} -le 100 ] && echo "$path"
}

# nginx's request body limit: UPLOAD_MAX_BYTES (with the K/M/G suffixes
# login-fcgi accepts) plus 64 KiB of multipart framing.
upload_body_max() {
    local v=${UPLOAD_MAX_BYTES:-10M} mult=1
    case $v in *[kK]) mult=1024 ;; *[mM]) mult=1048576 ;; *[gG]) mult=1073741824 ;; esac
    echo $((${v%[kKmMgG]} * mult + 65536))
}

render_nginx_conf() {
    local servers="" port sock fcgi=$FCGI_ADDR
    # max_fails=0: see the comment at "upstream chat_relay" in nginx.conf.
    if [ -n "$RELAY_SOCKETS" ]; then
        for sock in $RELAY_SOCKETS; do servers+="        server unix:$sock max_fails=0;"$'\n'; done
    else
        for port in $RELAY_PORTS; do servers+="        server 127.0.0.1:$port max_fails=0;"$'\n'; done
    fi
    [ -n "$servers" ] || servers="        server 127.0.0.1:9;"$'\n'
    case $fcgi in /*) fcgi=unix:$fcgi ;; esac
    mkdir -p "$DIR/nginx/nginx-tmp"
    awk -v prefix="$DIR/nginx" -v listen="127.0.0.1:$PORT" -v fcgi="$fcgi" \
        -v standin="$STANDIN_ADDR" -v files="$FILES_DIR" -v web="$ROOT/web" \
        -v upload="$(upload_body_max)" -v relays="${servers%$'\n'}" '
        { gsub(/@PREFIX@/, prefix); gsub(/@LISTEN@/, listen); gsub(/@FCGI_ADDR@/, fcgi);
          gsub(/@STANDIN_ADDR@/, standin); gsub(/@FILES_DIR@/, files); gsub(/@WEB_ROOT@/, web);
          gsub(/@UPLOAD_MAX@/, upload); gsub(/@RELAY_SERVERS@/, relays); print }' \
        "$ROOT/nginx.conf" >"$DIR/nginx/nginx.conf"
}

start_nginx() {
    render_nginx_conf
    nginx -t -q -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/nginx-error.log" ||
        die "nginx rejected the configuration"
    spawn nginx nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/nginx-error.log" \
        -g 'daemon off;'
}

svc_start() {
    case $1 in
    standin) start_standin ;;
    login) start_login ;;
    relay[0-9]*) start_relay "${1#relay}" ;;
    nginx) start_nginx ;;
    *) die "unknown service $1" ;;
    esac
}

relay_built() { [ -x "$BIN_DIR/relay/relay" ]; }
standin_built() { [ -x "$BIN_DIR/tools/wx-standin/wx-standin" ]; }
login_built() { [ -x "$BIN_DIR/login-fcgi/login-fcgi" ]; }

# --- commands --------------------------------------------------------------------

cmd_start() {
    mkdir -p "$DIR/log"
    chmod 755 "$DIR"
    BIN_DIR=${BIN_DIR:-$ROOT/build/release}
    case $BIN_DIR in /*) ;; *) BIN_DIR=$ROOT/$BIN_DIR ;; esac
    login_built || relay_built || die "no programs in $BIN_DIR: run make first"
    [ -n "${WX_API_BASE:-}" ] || standin_built || die "no tools/wx-standin/wx-standin in $BIN_DIR: run make first"
    PORT=${PORT:-$(free_port)}
    RELAYS=${RELAYS:-1}
    FILES_DIR=${FILES_DIR:-$DIR/files}
    mkdir -p "$FILES_DIR"
    chmod 755 "$FILES_DIR"
    setup_database
    if [ -n "${WX_API_BASE:-}" ]; then
        STANDIN=0 STANDIN_ADDR=127.0.0.1:9
        : "${WX_APPID:?WX_APPID is needed with WX_API_BASE}" "${WX_SECRET:?WX_SECRET is needed with WX_API_BASE}"
    else
        STANDIN=1 STANDIN_ADDR=127.0.0.1:$(free_port)
        WX_API_BASE=http://$STANDIN_ADDR WX_APPID=${WX_APPID:-wx0000standin0000}
        WX_SECRET=${WX_SECRET:-standin-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')}
    fi
    export WX_API_BASE WX_APPID WX_SECRET
    mkdir -p "$DIR/sock"
    chmod 755 "$DIR/sock"
    FCGI_ADDR=$(socket_path login) || FCGI_ADDR=127.0.0.1:$(free_port)
    RELAY_PORTS="" RELAY_METRICS_PORTS="" RELAY_SOCKETS=""
    if relay_built; then
        for n in $(seq "$RELAYS"); do
            RELAY_PORTS+="$(free_port) " RELAY_METRICS_PORTS+="$(free_port) "
            RELAY_SOCKETS+="$(socket_path "relay$n") "
        done
    fi
    RELAY_PORTS=${RELAY_PORTS% } RELAY_METRICS_PORTS=${RELAY_METRICS_PORTS% }
    RELAY_SOCKETS=${RELAY_SOCKETS% }
    # all relays on sockets, or none (a path was too long)
    [ "$(echo "$RELAY_SOCKETS" | wc -w)" = "$(echo "$RELAY_PORTS" | wc -w)" ] || RELAY_SOCKETS=""
    write_env
    [ "$STANDIN" = 1 ] && start_standin
    login_built && start_login
    if relay_built; then for n in $(seq "$RELAYS"); do start_relay "$n"; done; fi
    start_nginx
    # Ready when every program answers its health check (each one 200 only
    # when it reaches the database).
    [ "$STANDIN" = 1 ] && wait_http "http://$STANDIN_ADDR/standin/healthz" "the WeChat stand-in"
    for port in $RELAY_PORTS; do wait_http "http://127.0.0.1:$port/healthz" "relay on port $port"; done
    if login_built; then
        wait_http "http://127.0.0.1:$PORT/healthz" "login-fcgi behind nginx"
    else
        say "login-fcgi is not built: /login and friends answer 502"
        wait_http "http://127.0.0.1:$PORT/standin/healthz" "nginx"
    fi
}

cmd_stop() {
    load_env
    local f
    for f in "$DIR"/pid/*.pid; do
        [ -e "$f" ] || continue
        stop_pid "$(basename "$f" .pid)"
    done
    pg_stop fast
}

cmd_run() {
    DIR=$ROOT/var
    mkdir -p "$DIR"
    PORT=${PORT:-8080}
    export FILES_DIR=${FILES_DIR:-$DIR/files}
    trap 'echo; say "stopping"; cmd_stop; exit 0' INT TERM
    cmd_start
    # Database maintenance (partitions ahead, retention, old sessions): now and hourly.
    spawn maintenance env DATABASE_URL="$ADMIN_DATABASE_URL" "$ROOT/tools/maintenance.sh" \
        --every "${MAINTENANCE_INTERVAL:-3600}"
    echo "chat room running at http://127.0.0.1:$PORT/   (logs in var/log, Ctrl-C to stop)"
    while sleep 1; do
        for f in "$DIR"/pid/*.pid; do
            [ -e "$f" ] && ! kill -0 "$(cat "$f")" 2>/dev/null &&
                say "$(basename "$f" .pid) exited; see $DIR/log/$(basename "$f" .pid).log"
            [ -e "$f" ] && ! kill -0 "$(cat "$f")" 2>/dev/null && rm -f "$f"
        done
    done
}

main() {
    local cmd=${1:-}
    case $cmd in
    run) cmd_run ;;
    start | stop | pg-stop | pg-start | svc-stop | svc-start)
        DIR=${2:?usage: stack.sh $cmd DIR}
        DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
        case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        pg-stop) load_env; pg_stop "${3:-fast}" ;;
        pg-start) load_env; pg_start ;;
        svc-stop) load_env; stop_pid "${3:?service name}" "${4:-TERM}" ;;
        svc-start) load_env; svc_start "${3:?service name}" ;;
        esac
        ;;
    *) sed -n '2,25p' "$0" >&2; exit 2 ;;
    esac
}

main "$@"
